-- CUMULATE window aggregation without a key (one group per window).
CREATE TABLE out_windows (window_start TIMESTAMP(3), window_end TIMESTAMP(3), bids BIGINT, bidders_sum BIGINT, avg_bidder BIGINT)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT window_start, window_end, COUNT(*), SUM(bidder), AVG(bidder)
FROM TABLE(CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '30' SECOND, INTERVAL '2' MINUTE))
GROUP BY window_start, window_end;
