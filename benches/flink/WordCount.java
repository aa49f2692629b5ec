// WordCount on Apache Flink's DataStream API: the same job as Sluice's `word_count` example
// (src/jobs/word_count.rs), for the benchmarks that run both on the same input.
//
// Each line is lowercased and split into words: the runs of [a-z0-9] (a word is the same on
// both sides). Batch mode writes one `word,count` line per distinct word with its final count to
// OUTPUT; streaming mode counts every update into a discarding sink.
//
// usage: benches/flink/run.sh WordCount --input IN [--output OUT] [--parallelism P]
//          [--mode batch|streaming]

import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;

public class WordCount {

    /** Emits (word, 1) for each run of [a-z0-9] in the lowercased line. */
    static class Tokenizer implements FlatMapFunction<String, Tuple2<String, Long>> {
        @Override
        public void flatMap(String line, Collector<Tuple2<String, Long>> out) {
            String lower = line.toLowerCase(Locale.ROOT);
            int start = -1;
            for (int i = 0; i <= lower.length(); i++) {
                char c = i < lower.length() ? lower.charAt(i) : ' ';
                boolean inWord = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (inWord && start < 0) {
                    start = i;
                } else if (!inWord && start >= 0) {
                    out.collect(Tuple2.of(lower.substring(start, i), 1L));
                    start = -1;
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> flags = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            flags.put(args[i], args[i + 1]);
        }
        boolean batch = flags.getOrDefault("--mode", "batch").equals("batch");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(Integer.parseInt(flags.getOrDefault("--parallelism", "1")));
        env.setRuntimeMode(batch ? RuntimeExecutionMode.BATCH : RuntimeExecutionMode.STREAMING);

        FileSource<String> file = FileSource
                .forRecordStreamFormat(new TextLineInputFormat(), new Path(flags.get("--input")))
                .build();
        DataStream<Tuple2<String, Long>> counts = env
                .fromSource(file, WatermarkStrategy.noWatermarks(), "Read")
                .flatMap(new Tokenizer())
                .returns(Types.TUPLE(Types.STRING, Types.LONG))
                .name("Tokenizer")
                .keyBy(pair -> pair.f0)
                .sum(1)
                .name("Counter");

        long lines = 0;
        long started = System.nanoTime();
        if (batch) {
            try (BufferedWriter out = Files.newBufferedWriter(Paths.get(flags.get("--output")));
                    CloseableIterator<Tuple2<String, Long>> results = counts.executeAndCollect("WordCount")) {
                while (results.hasNext()) {
                    Tuple2<String, Long> count = results.next();
                    out.write(count.f0 + "," + count.f1);
                    out.newLine();
                    lines++;
                }
            }
        } else {
            counts.sinkTo(new DiscardingSink<>());
            env.execute("WordCount");
        }
        System.out.println("wordcount mode=" + (batch ? "batch" : "streaming") + " lines=" + lines
                + " job_s=" + (System.nanoTime() - started) / 1e9);
    }
}
