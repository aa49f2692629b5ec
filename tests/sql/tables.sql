-- The tables every case reads (cases/*.sql run after it): bids.csv of data/, written by
-- gen_data.py.
CREATE TABLE bids (
  auction BIGINT,
  bidder BIGINT,
  price DECIMAL(10, 2),
  channel STRING,
  url STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bids.csv', 'format' = 'csv', 'csv.null-literal' = 'null');

-- Bids some of which come past the watermark (late_bids.csv of data/).
CREATE TABLE late_bids (
  auction BIGINT,
  bidder BIGINT,
  price DECIMAL(10, 2),
  channel STRING,
  url STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/late_bids.csv', 'format' = 'csv');
