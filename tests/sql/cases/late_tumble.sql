-- TUMBLE window aggregation over rows some of which come after the watermark passed their
-- window: Flink drops them, by where its watermarks fall among the rows.
CREATE TABLE out_windows (window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, total DECIMAL(38, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT window_start, window_end, COUNT(*), SUM(price)
FROM TABLE(TUMBLE(TABLE late_bids, DESCRIPTOR(ts), INTERVAL '2' SECOND))
GROUP BY window_start, window_end;
