-- Per-channel bid counts and average bidder in 10-second windows every 2 seconds.
CREATE TABLE out_windows (channel STRING, window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, avg_bidder BIGINT)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT channel, window_start, window_end, COUNT(*), AVG(bidder)
FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
GROUP BY channel, window_start, window_end;
