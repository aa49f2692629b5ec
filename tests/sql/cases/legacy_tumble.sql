-- The legacy group window: GROUP BY TUMBLE(..) with TUMBLE_START, TUMBLE_END and TUMBLE_ROWTIME.
CREATE TABLE out_windows (channel STRING, wstart TIMESTAMP(3), wend TIMESTAMP(3), rowtime TIMESTAMP(3), bids BIGINT, share DOUBLE)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT channel, TUMBLE_START(ts, INTERVAL '1' MINUTE), TUMBLE_END(ts, INTERVAL '1' MINUTE),
       TUMBLE_ROWTIME(ts, INTERVAL '1' MINUTE), COUNT(*),
       CASE WHEN COUNT(*) > 10 THEN CAST(SUM(bidder) AS DOUBLE) / COUNT(*) ELSE 0.0 END
FROM bids
GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), channel;
