-- Each 10-second window's web bids beside its app bids on the same auction, unmatched ones
-- NULL-padded (a FULL OUTER window join).
CREATE TABLE out_joined (auction BIGINT, window_start TIMESTAMP(3), web_price DECIMAL(10, 2), app_price DECIMAL(10, 2))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_joined
SELECT COALESCE(W.auction, A.auction), COALESCE(W.window_start, A.window_start), W.price, A.price
FROM (SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) WHERE channel = 'web') W
FULL JOIN (SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)) WHERE channel = 'app') A
ON W.auction = A.auction AND W.window_start = A.window_start AND W.window_end = A.window_end;
