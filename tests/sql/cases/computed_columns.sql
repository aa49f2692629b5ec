-- A computed column, integer division, decimal division and string concatenation.
CREATE TABLE bids_in_cents (
  auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), channel STRING, url STRING, ts TIMESTAMP(3),
  cents AS CAST(price * 100 AS BIGINT),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bids.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE out_rows (cents BIGINT, per_bidder BIGINT, ratio DECIMAL(38, 10), label STRING)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_rows
SELECT cents, cents / bidder, price / 7.5, channel || '#' || CAST(auction AS STRING)
FROM bids_in_cents
WHERE bidder BETWEEN 2100 AND 2300;
