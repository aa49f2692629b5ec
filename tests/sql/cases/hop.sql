-- HOP window aggregation per string key, with an aggregate inside an expression.
CREATE TABLE out_windows (channel STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, top_bidder BIGINT, spread DECIMAL(11, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT channel, window_start, window_end, COUNT(*), MAX(bidder), MAX(price) - MIN(price)
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND))
WHERE auction < 1030
GROUP BY window_start, window_end, channel;
