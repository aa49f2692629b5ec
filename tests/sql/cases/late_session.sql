-- SESSION window aggregation per key over rows some of which come after the watermark
-- closed their session: Flink drops them, by where its watermarks fall among the rows.
CREATE TABLE out_windows (auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, low DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT auction, window_start, window_end, COUNT(*), MIN(price)
FROM TABLE(SESSION(TABLE late_bids PARTITION BY auction, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY auction, window_start, window_end;
