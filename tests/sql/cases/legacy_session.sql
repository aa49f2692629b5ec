-- The legacy group window: GROUP BY SESSION(..) with SESSION_START and SESSION_END.
CREATE TABLE out_windows (auction BIGINT, wstart TIMESTAMP(3), wend TIMESTAMP(3), bids BIGINT, lowest DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT auction, SESSION_START(ts, INTERVAL '15' SECOND), SESSION_END(ts, INTERVAL '15' SECOND), COUNT(*), MIN(price)
FROM bids
GROUP BY SESSION(ts, INTERVAL '15' SECOND), auction;
