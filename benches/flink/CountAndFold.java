// The AggregateFunction of this directory's window programs: per window, the number of elements
// and their values folded by one operator (a sum, a maximum). run.sh compiles it with the
// programs that use it.

import java.io.Serializable;
import java.util.function.LongBinaryOperator;
import java.util.function.ToLongFunction;

import org.apache.flink.api.common.functions.AggregateFunction;

/** `[count, fold]`: the count of the elements and `fold` over their `value`s from `identity`. */
public class CountAndFold<T> implements AggregateFunction<T, long[], long[]> {

    /** An element's value, serializable as Flink ships the function to its tasks. */
    public interface Value<T> extends ToLongFunction<T>, Serializable {}

    /** How two values fold into one, serializable as Flink ships the function to its tasks. */
    public interface Fold extends LongBinaryOperator, Serializable {}

    private final long identity;
    private final Fold fold;
    private final Value<T> value;

    public CountAndFold(long identity, Fold fold, Value<T> value) {
        this.identity = identity;
        this.fold = fold;
        this.value = value;
    }

    @Override
    public long[] createAccumulator() {
        return new long[] {0, identity};
    }

    @Override
    public long[] add(T element, long[] accumulator) {
        accumulator[0] += 1;
        accumulator[1] = fold.applyAsLong(accumulator[1], value.applyAsLong(element));
        return accumulator;
    }

    @Override
    public long[] getResult(long[] accumulator) {
        return accumulator;
    }

    @Override
    public long[] merge(long[] a, long[] b) {
        return new long[] {a[0] + b[0], fold.applyAsLong(a[1], b[1])};
    }
}
