-- The SESSION window table function on its own: each bid with the bounds of its bidder's
-- session (bids at most 2 minutes apart), emitted when the session closes; and bids on
-- auctions below 1010 in sessions over all bidders (no PARTITION BY: 10 seconds apart).
CREATE TABLE out_sessions (
  bidder BIGINT, auction BIGINT, price DECIMAL(10, 2), ts TIMESTAMP(3),
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), window_time TIMESTAMP(3)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_sessions
SELECT bidder, auction, price, CAST(ts AS TIMESTAMP(3)), window_start, window_end, window_time
FROM TABLE(SESSION(TABLE bids PARTITION BY bidder, DESCRIPTOR(ts), INTERVAL '2' MINUTE))
UNION ALL
SELECT bidder, auction, price, CAST(ts AS TIMESTAMP(3)), window_start, window_end, window_time
FROM TABLE(SESSION(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
WHERE auction < 1010;
