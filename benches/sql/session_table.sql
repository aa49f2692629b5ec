-- Each bid with the bounds of its auction's session (bids at most 5 seconds apart): the
-- SESSION window table function on its own.
CREATE TABLE out_sessions (auction BIGINT, bidder BIGINT, price DECIMAL(10, 2), window_start TIMESTAMP(3), window_end TIMESTAMP(3))
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_sessions
SELECT auction, bidder, price, window_start, window_end
FROM TABLE(SESSION(TABLE bids PARTITION BY auction, DESCRIPTOR(ts), INTERVAL '5' SECOND));
