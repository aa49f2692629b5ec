-- CUMULATE window aggregation without a key (one group per window).
CREATE TABLE bids (
  auction BIGINT,
  bidder BIGINT,
  price DECIMAL(10, 2),
  channel STRING,
  url STRING,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts - INTERVAL '3' SECOND
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/bids.csv', 'format' = 'csv', 'csv.null-literal' = 'null');
CREATE TABLE out_windows (window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, bidders_sum BIGINT, avg_bidder BIGINT)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT window_start, window_end, COUNT(*), SUM(bidder), AVG(bidder)
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
GROUP BY window_start, window_end;
