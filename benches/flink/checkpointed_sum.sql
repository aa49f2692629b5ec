-- Keyed running sums over 1,000,000 keys (the Sluice keyed-sum benchmark's shape):
-- ${ROWS} rows, key uniform in [0, 999999], each adding 1; every update goes to a blackhole sink.
-- Run with checkpointing on, e.g. FLINK_CONF="execution.checkpointing.interval=1s;..."
CREATE TEMPORARY TABLE numbers (
  k BIGINT,
  v AS CAST(1 AS BIGINT)
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1000000000',
  'number-of-rows' = '${ROWS}',
  'fields.k.min' = '0',
  'fields.k.max' = '999999'
);

CREATE TEMPORARY TABLE sink (k BIGINT, s BIGINT) WITH ('connector' = 'blackhole');

INSERT INTO sink SELECT k, SUM(v) AS s FROM numbers GROUP BY k;
