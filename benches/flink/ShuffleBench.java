// The network shuffle benchmark of scripts/bench_cluster.sh on Apache Flink: the same job as
// examples/bench_shuffle.rs. `p` readers make `records` records (a key, the creation time in ns,
// `payload` bytes), optionally paced to `rate` records/s in total; a hash partitioning on the key
// sends them to `p` meters, which count them (and their latency when paced) and write one line
// to REPORT/sink-<subtask>.txt when the input ends.
//
// usage: flink run -p P -c ShuffleBench shuffle.jar RECORDS PAYLOAD RATE BUFFER_TIMEOUT_MS REPORT

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.Partitioner;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.tuple.Tuple3;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;

public class ShuffleBench {
    public static void main(String[] args) throws Exception {
        long records = Long.parseLong(args[0]);
        int payload = Integer.parseInt(args[1]);
        long rate = Long.parseLong(args[2]);
        long bufferTimeout = Long.parseLong(args[3]);
        String report = args[4];
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setBufferTimeout(bufferTimeout);
        env.fromSequence(0, records - 1)
                .map(new Generate(payload, rate))
                .returns(Types.TUPLE(Types.LONG, Types.LONG, Types.PRIMITIVE_ARRAY(Types.BYTE)))
                .partitionCustom(
                        (Partitioner<Long>) (key, n) -> (int) (((key * 0x9E3779B97F4A7C15L) >>> 32) % n),
                        t -> t.f0)
                .map(new Meter(report, rate > 0))
                .sinkTo(new DiscardingSink<>());
        env.execute("Shuffle benchmark");
    }

    /** Turns a sequence number into a record, pacing this subtask to its share of the rate. */
    static class Generate extends RichMapFunction<Long, Tuple3<Long, Long, byte[]>> {
        private final int payload;
        private final long rate;
        private double perNs;
        private long started;
        private long emitted;

        Generate(int payload, long rate) {
            this.payload = payload;
            this.rate = rate;
        }

        @Override
        public void open(OpenContext context) {
            int parallelism = getRuntimeContext().getTaskInfo().getNumberOfParallelSubtasks();
            perNs = rate / (double) parallelism / 1e9;
        }

        @Override
        public Tuple3<Long, Long, byte[]> map(Long key) throws Exception {
            if (perNs > 0) {
                if (started == 0) {
                    started = System.nanoTime();
                }
                while (emitted >= (System.nanoTime() - started) * perNs + 1) {
                    Thread.sleep(0, 100_000);
                }
                emitted++;
            }
            return Tuple3.of(key, nowNs(), new byte[payload]);
        }
    }

    static long nowNs() {
        java.time.Instant now = java.time.Instant.now();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano();
    }

    /** Counts records, bytes and latencies; writes them when the input ends. */
    static class Meter extends RichMapFunction<Tuple3<Long, Long, byte[]>, Long> {
        private final String report;
        private final boolean latencies;
        private long records;
        private long bytes;
        private long first;
        private long last;
        private int[] latencyUs = new int[1 << 16];
        private int count;

        Meter(String report, boolean latencies) {
            this.report = report;
            this.latencies = latencies;
        }

        @Override
        public Long map(Tuple3<Long, Long, byte[]> t) {
            long now = nowNs();
            if (records == 0) {
                first = now;
            }
            last = now;
            records++;
            bytes += 16 + t.f2.length;
            if (latencies) {
                if (count == latencyUs.length) {
                    latencyUs = Arrays.copyOf(latencyUs, count * 2);
                }
                latencyUs[count++] = (int) ((now - t.f1) / 1000);
            }
            return t.f0;
        }

        @Override
        public void close() throws Exception {
            StringBuilder line = new StringBuilder();
            line.append("records=").append(records).append(" bytes=").append(bytes)
                    .append(" first_ns=").append(first).append(" last_ns=").append(last);
            if (latencies && count > 0) {
                int[] sorted = Arrays.copyOf(latencyUs, count);
                Arrays.sort(sorted);
                line.append(" p50_us=").append(sorted[(int) ((count - 1) * 0.5)])
                        .append(" p99_us=").append(sorted[(int) ((count - 1) * 0.99)]);
            }
            Path dir = Paths.get(report);
            Files.createDirectories(dir);
            int subtask = getRuntimeContext().getTaskInfo().getIndexOfThisSubtask();
            Files.writeString(dir.resolve("sink-" + subtask + ".txt"), line.append('\n').toString());
        }
    }
}
