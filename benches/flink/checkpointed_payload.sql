-- Large keyed state for recovery measurements (the Sluice keyed-sum --payload-bytes 100 shape):
-- ${ROWS} rows, key uniform in [0, KEYS_MINUS_1], each adding 1 and carrying a random
-- 100-character payload; per key the sum and the last payload are kept.
CREATE TEMPORARY TABLE numbers (
  k BIGINT,
  p STRING,
  v AS CAST(1 AS BIGINT)
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1000000000',
  'number-of-rows' = '${ROWS}',
  'fields.k.min' = '0',
  'fields.k.max' = '${KEYS_MINUS_1}',
  'fields.p.length' = '100'
);

CREATE TEMPORARY TABLE sink (k BIGINT, s BIGINT, p STRING) WITH ('connector' = 'blackhole');

INSERT INTO sink SELECT k, SUM(v) AS s, LAST_VALUE(p) AS p FROM numbers GROUP BY k;
