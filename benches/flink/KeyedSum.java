// Keyed running sums on Apache Flink's DataStream API: the same job as Sluice's
// `bench_throughput keyed-sum` (examples/bench_throughput.rs), for the benchmarks that run
// both: numbers 0..RECORDS-1, each mapped to (n % KEYS, 1), keyed by the first field, summed on
// the second, every updated sum into a sink that adds the sums up. The total is printed as
// `checksum=<n>`; it does not depend on the order of the records (for each key, 1 + 2 + … up to
// its count), so both engines' totals must be equal.
//
// With BACKEND (hashmap or rocksdb) and CHECKPOINT_DIR, the job keeps its state in that backend
// and takes incremental checkpoints into the directory every INTERVAL_MS (default 1000),
// aligned, or unaligned with a last argument `unaligned`.
//
// usage: benches/flink/run.sh KeyedSum RECORDS KEYS PARALLELISM [BACKEND [CHECKPOINT_DIR [INTERVAL_MS [aligned|unaligned]]]]

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

public class KeyedSum {

    /** Every subtask's total, added up when its input ends (one JVM: local mode). */
    static final AtomicLong TOTAL = new AtomicLong();

    /** Adds up the sums it receives. */
    static class SumOfCounts implements Sink<Tuple2<Long, Long>> {
        @Override
        public SinkWriter<Tuple2<Long, Long>> createWriter(WriterInitContext context) {
            return new SinkWriter<Tuple2<Long, Long>>() {
                private long sum;

                @Override
                public void write(Tuple2<Long, Long> element, Context context) {
                    sum += element.f1;
                }

                @Override
                public void flush(boolean endOfInput) {
                    if (endOfInput) {
                        TOTAL.addAndGet(sum);
                        sum = 0;
                    }
                }

                @Override
                public void close() {}
            };
        }
    }

    public static void main(String[] args) throws Exception {
        long records = Long.parseLong(args[0]);
        long keys = Long.parseLong(args[1]);
        Map<String, String> options = new HashMap<>();
        if (args.length > 3) {
            options.put("state.backend.type", args[3]);
        }
        if (args.length > 4) {
            options.put("execution.checkpointing.dir", "file://" + args[4]);
            options.put("execution.checkpointing.incremental", "true");
            options.put("execution.checkpointing.interval", (args.length > 5 ? args[5] : "1000") + " ms");
        }
        if (args.length > 6) {
            options.put("execution.checkpointing.unaligned.enabled", String.valueOf(args[6].equals("unaligned")));
        }
        StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(Configuration.fromMap(options));
        env.setParallelism(Integer.parseInt(args[2]));
        env.fromSequence(0, records - 1)
                .map(n -> Tuple2.of(n % keys, 1L))
                .returns(Types.TUPLE(Types.LONG, Types.LONG))
                .keyBy(pair -> pair.f0)
                .sum(1)
                .sinkTo(new SumOfCounts());
        env.execute("KeyedSum");
        System.out.println("checksum=" + TOTAL.get());
    }
}
