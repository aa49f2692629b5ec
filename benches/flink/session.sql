-- Flink side of Sluice's window benchmarks (run with run_flink_sql.sh FILE P ROWS).
-- Bids from datagen: ${ROWS} rows without throttling, event time = 2024-01-01 + seq/10 ms,
-- 10,000 auctions, watermark 4 s behind event time; results go to a blackhole sink.
CREATE TEMPORARY TABLE bid (
  seq BIGINT,
  auction BIGINT,
  bidder BIGINT,
  price BIGINT,
  channel STRING,
  url STRING,
  extra STRING,
  date_time AS CAST(TO_TIMESTAMP_LTZ(1704067200000 + seq / 10, 3) AS TIMESTAMP(3)),
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1000000000',
  'fields.seq.kind' = 'sequence',
  'fields.seq.start' = '0',
  'fields.seq.end' = '${ROWS_MINUS_1}',
  'fields.auction.min' = '1000',
  'fields.auction.max' = '10999',
  'fields.bidder.min' = '1000',
  'fields.bidder.max' = '100999',
  'fields.price.min' = '1',
  'fields.price.max' = '100000',
  'fields.channel.length' = '8',
  'fields.url.length' = '32',
  'fields.extra.length' = '16'
);

-- event-time sessions per auction with a 1 s gap, COUNT(*) and MAX(price)
CREATE TEMPORARY TABLE sink (
  auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), num BIGINT, max_price BIGINT
) WITH ('connector' = 'blackhole');

INSERT INTO sink
SELECT auction, window_start, window_end, COUNT(*) AS num, MAX(price) AS max_price
FROM TABLE(SESSION(TABLE bid PARTITION BY auction, DESCRIPTOR(date_time), INTERVAL '1' SECOND))
GROUP BY auction, window_start, window_end;
