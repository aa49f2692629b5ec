// Runs a Flink SQL script as `sluice sql -f` runs it: every statement in order (SET, CREATE,
// INSERT, ...), each INSERT awaited until its job finished. Statements end with `;` at the end
// of a line; `--` comment lines are skipped. Used to produce Flink's results for the SQL
// differential tests and benchmarks (the PyPI Flink lacks the SQL client's gateway classes).
//
//   benches/flink/run.sh SqlScript script.sql
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

public class SqlScript {
    static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : script.split("\n")) {
            String trimmed = line.trim();
            if (trimmed.startsWith("--") || trimmed.isEmpty()) continue;
            current.append(line).append('\n');
            if (trimmed.endsWith(";")) {
                String statement = current.toString().trim();
                out.add(statement.substring(0, statement.length() - 1));
                current.setLength(0);
            }
        }
        if (!current.toString().trim().isEmpty()) out.add(current.toString().trim());
        return out;
    }

    public static void main(String[] args) throws Exception {
        String script = new String(Files.readAllBytes(Paths.get(args[0])), StandardCharsets.UTF_8);
        TableEnvironment tEnv = TableEnvironment.create(EnvironmentSettings.inStreamingMode());
        long start = System.nanoTime();
        Pattern set = Pattern.compile("(?is)SET\\s+'([^']*)'\\s*=\\s*'([^']*)'");
        for (String statement : statements(script)) {
            // The SQL client's SET; a TableEnvironment takes it as configuration.
            Matcher option = set.matcher(statement);
            if (option.matches()) {
                tEnv.getConfig().getConfiguration().setString(option.group(1), option.group(2));
                continue;
            }
            TableResult result = tEnv.executeSql(statement);
            if (result.getJobClient().isPresent()) {
                result.await();
            }
        }
        System.out.printf("flink sql script finished in %d ms%n", (System.nanoTime() - start) / 1_000_000);
    }
}
