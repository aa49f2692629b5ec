-- SESSION window aggregation per key (the window table function).
CREATE TABLE out_windows (auction BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, top DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT auction, window_start, window_end, COUNT(*), MAX(price)
FROM TABLE(SESSION(TABLE bids PARTITION BY auction, DESCRIPTOR(ts), INTERVAL '20' SECOND))
GROUP BY auction, window_start, window_end;
