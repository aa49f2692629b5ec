// Keyed event-time windows over a Nexmark-like bid stream on Apache Flink's DataStream API:
// the same job as Sluice's `bench_throughput windows` (examples/bench_throughput.rs), so the
// benchmarks can run both on the same events.
//
// Bid number `seq` (0..RECORDS-1) has event time 2024-01-01 + seq / 10 ms; its auction (one of
// 10,000) and price (1..100,000) come from SplitMix64 of `seq`, exactly as on the Sluice side.
// Watermarks trail by 4 s (bounded out-of-orderness); per auction and window the job computes
// COUNT(*) and MAX(price). A sink adds up the panes' number, counts and maxima and the program
// prints `checksum=panes:<n>,count:<n>,max:<n>`, which must equal Sluice's.
//
// usage: benches/flink/run.sh WindowsBench tumbling|sliding|session RECORDS [PARALLELISM]

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.WindowedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;

public class WindowsBench {

    /** A bid, reduced to the columns the query reads. */
    public static class Bid {
        public long auction;
        public long price;
        public long dateTime;

        public Bid() {}

        static Bid number(long seq) {
            long draw = splitmix64(seq);
            Bid bid = new Bid();
            bid.auction = 1000 + Long.remainderUnsigned(draw, 10_000);
            bid.price = 1 + (draw >>> 32) % 100_000;
            bid.dateTime = 1_704_067_200_000L + seq / 10;
            return bid;
        }
    }

    /** SplitMix64's output for the state `n` (before its increment). */
    static long splitmix64(long n) {
        long z = n + 0x9e3779b97f4a7c15L;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    static final AtomicLong PANES = new AtomicLong();
    static final AtomicLong COUNTS = new AtomicLong();
    static final AtomicLong MAXIMA = new AtomicLong();

    /** Adds up the panes it receives (one JVM: local mode). */
    static class PaneChecksum implements Sink<long[]> {
        @Override
        public SinkWriter<long[]> createWriter(WriterInitContext context) {
            return new SinkWriter<long[]>() {
                @Override
                public void write(long[] pane, Context context) {
                    PANES.incrementAndGet();
                    COUNTS.addAndGet(pane[0]);
                    MAXIMA.addAndGet(pane[1]);
                }

                @Override
                public void flush(boolean endOfInput) {}

                @Override
                public void close() {}
            };
        }
    }

    public static void main(String[] args) throws Exception {
        String kind = args[0];
        long records = Long.parseLong(args[1]);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(args.length > 2 ? Integer.parseInt(args[2]) : 1);
        KeyedStream<Bid, Long> keyed = env.fromSequence(0, records - 1)
                .map(Bid::number)
                .assignTimestampsAndWatermarks(WatermarkStrategy
                        .<Bid>forBoundedOutOfOrderness(Duration.ofSeconds(4))
                        .withTimestampAssigner((bid, previous) -> bid.dateTime))
                .keyBy(bid -> bid.auction);
        WindowedStream<Bid, Long, TimeWindow> windowed;
        switch (kind) {
            case "tumbling":
                windowed = keyed.window(TumblingEventTimeWindows.of(Duration.ofSeconds(10)));
                break;
            case "sliding":
                windowed = keyed.window(SlidingEventTimeWindows.of(Duration.ofSeconds(10), Duration.ofSeconds(2)));
                break;
            case "session":
                windowed = keyed.window(EventTimeSessionWindows.withGap(Duration.ofSeconds(1)));
                break;
            default:
                throw new IllegalArgumentException("tumbling, sliding or session");
        }
        windowed.aggregate(new CountAndFold<Bid>(Long.MIN_VALUE, Math::max, bid -> bid.price))
                .name("Window")
                .sinkTo(new PaneChecksum());
        env.execute("WindowsBench");
        System.out.println("checksum=panes:" + PANES.get() + ",count:" + COUNTS.get() + ",max:" + MAXIMA.get());
    }
}
