-- TUMBLE window aggregation per key.
CREATE TABLE out_windows (
  auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
  bids BIGINT, priced BIGINT, total DECIMAL(38, 2), lowest DECIMAL(10, 2), highest DECIMAL(10, 2), average DECIMAL(38, 6), last_time TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT auction, window_start, window_end, COUNT(*), COUNT(price), SUM(price), MIN(price), MAX(price), AVG(price), window_time
FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY auction, window_start, window_end, window_time;
