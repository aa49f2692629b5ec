-- Keyed running sums (the Sluice keyed-sum benchmark's shape): ${ROWS} rows, key uniform in
-- [0, KEYS_MINUS_1] (set it in the environment, e.g. 999999 for 1 M keys), each adding 1;
-- every update goes to a blackhole sink.
-- Run with checkpointing on, e.g. FLINK_CONF="execution.checkpointing.interval=1s;..."
CREATE TEMPORARY TABLE numbers (
  k BIGINT,
  v AS CAST(1 AS BIGINT)
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1000000000',
  'number-of-rows' = '${ROWS}',
  'fields.k.min' = '0',
  'fields.k.max' = '${KEYS_MINUS_1}'
);

CREATE TEMPORARY TABLE sink (k BIGINT, s BIGINT) WITH ('connector' = 'blackhole');

INSERT INTO sink SELECT k, SUM(v) AS s FROM numbers GROUP BY k;
