// Keyed event-time windows on Apache Flink's DataStream API: the same job as
// `sluice event-time-windows` (src/jobs/event_time_windows.rs), so that the tests can compare
// both engines' output on the same input.
//
// Input lines are `key,timestamp_ms,value` (exactly three fields, integer timestamp and value;
// other lines are skipped). One reader at parallelism 1 emits a watermark after every record:
// the highest timestamp so far minus the out-of-orderness minus 1 ms. The windows count and sum
// the values per key; each firing writes `key,window_start,window_end,count,sum` to OUTPUT, and
// records too late for every window are written to LATE as they were read.
//
// usage: benches/flink/run.sh EventTimeWindows --input IN --output OUT --late-output LATE
//          --window tumbling|sliding|session [--size-ms N] [--slide-ms N] [--gap-ms N]
//          [--out-of-orderness-ms N] [--allowed-lateness-ms N] [--parallelism P]

import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.eventtime.Watermark;
import org.apache.flink.api.common.eventtime.WatermarkGenerator;
import org.apache.flink.api.common.eventtime.WatermarkOutput;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.connector.file.src.FileSource;
import org.apache.flink.connector.file.src.reader.TextLineInputFormat;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.datastream.WindowedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

public class EventTimeWindows {

    /** A parsed input line. */
    public static class Event {
        public String key;
        public long timestamp;
        public long value;
        public String line;

        public Event() {}
    }

    /** `key,timestamp,value` with integers, or null. */
    static Event parse(String line) {
        String[] fields = line.split(",", -1);
        if (fields.length != 3) {
            return null;
        }
        try {
            Event event = new Event();
            event.key = fields[0];
            event.timestamp = Long.parseLong(fields[1]);
            event.value = Long.parseLong(fields[2]);
            event.line = line;
            return event;
        } catch (NumberFormatException malformed) {
            return null;
        }
    }

    /** A watermark after every event, trailing the highest timestamp by the bound plus 1 ms. */
    static class PerEventWatermarks implements WatermarkGenerator<Event> {
        private final long bound;
        private long highest;

        PerEventWatermarks(long bound) {
            this.bound = bound;
            this.highest = Long.MIN_VALUE + bound + 1;
        }

        @Override
        public void onEvent(Event event, long timestamp, WatermarkOutput output) {
            highest = Math.max(highest, timestamp);
            output.emitWatermark(new Watermark(highest - bound - 1));
        }

        @Override
        public void onPeriodicEmit(WatermarkOutput output) {}
    }

    /** One output line per firing: `key,start,end,count,sum`, marked as a window. */
    static class FormatPane extends ProcessWindowFunction<long[], String, String, TimeWindow> {
        @Override
        public void process(String key, Context context, Iterable<long[]> results, Collector<String> out) {
            TimeWindow window = context.window();
            for (long[] result : results) {
                out.collect("W" + key + "," + window.getStart() + "," + window.getEnd() + ","
                        + result[0] + "," + result[1]);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> flags = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            flags.put(args[i], args[i + 1]);
        }
        long bound = Long.parseLong(flags.getOrDefault("--out-of-orderness-ms", "0"));
        Duration lateness = Duration.ofMillis(Long.parseLong(flags.getOrDefault("--allowed-lateness-ms", "0")));
        Duration size = Duration.ofMillis(Long.parseLong(flags.getOrDefault("--size-ms", "1000")));
        Duration slide = Duration.ofMillis(Long.parseLong(flags.getOrDefault("--slide-ms", "1000")));
        Duration gap = Duration.ofMillis(Long.parseLong(flags.getOrDefault("--gap-ms", "1000")));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(Integer.parseInt(flags.getOrDefault("--parallelism", "1")));
        env.getConfig().setAutoWatermarkInterval(0);

        FileSource<String> file = FileSource
                .forRecordStreamFormat(new TextLineInputFormat(), new Path(flags.get("--input")))
                .build();
        DataStream<Event> events = env
                .fromSource(file, WatermarkStrategy.noWatermarks(), "Read")
                .setParallelism(1)
                .flatMap((FlatMapFunction<String, Event>) (line, out) -> {
                    Event event = parse(line);
                    if (event != null) {
                        out.collect(event);
                    }
                })
                .returns(Event.class)
                .name("Parse")
                .setParallelism(1)
                .assignTimestampsAndWatermarks(WatermarkStrategy
                        .<Event>forGenerator(context -> new PerEventWatermarks(bound))
                        .withTimestampAssigner((event, previous) -> event.timestamp))
                .setParallelism(1);

        KeyedStream<Event, String> keyed = events.keyBy((KeySelector<Event, String>) event -> event.key);
        WindowedStream<Event, String, TimeWindow> windowed;
        switch (flags.get("--window")) {
            case "tumbling":
                windowed = keyed.window(TumblingEventTimeWindows.of(size));
                break;
            case "sliding":
                windowed = keyed.window(SlidingEventTimeWindows.of(size, slide));
                break;
            case "session":
                windowed = keyed.window(EventTimeSessionWindows.withGap(gap));
                break;
            default:
                throw new IllegalArgumentException("--window must be tumbling, sliding or session");
        }
        OutputTag<Event> late = new OutputTag<Event>("late") {};
        SingleOutputStreamOperator<String> panes = windowed
                .allowedLateness(lateness)
                .sideOutputLateData(late)
                .aggregate(new CountAndFold<Event>(0, Long::sum, event -> event.value), new FormatPane())
                .name("Window");
        DataStream<String> lateLines = panes.getSideOutput(late)
                .map(event -> "L" + event.line)
                .returns(Types.STRING);

        long windows = 0;
        long lateCount = 0;
        try (BufferedWriter out = Files.newBufferedWriter(Paths.get(flags.get("--output")));
                BufferedWriter lateOut = Files.newBufferedWriter(Paths.get(flags.get("--late-output")));
                CloseableIterator<String> results = panes.union(lateLines).executeAndCollect("EventTimeWindows")) {
            while (results.hasNext()) {
                String result = results.next();
                BufferedWriter target = result.charAt(0) == 'W' ? out : lateOut;
                target.write(result, 1, result.length() - 1);
                target.newLine();
                if (target == out) {
                    windows++;
                } else {
                    lateCount++;
                }
            }
        }
        System.out.println("event_time_windows window=" + flags.get("--window") + " panes=" + windows
                + " late=" + lateCount);
    }
}
