-- Views, UNION ALL (a DECIMAL(10, 2) and a DECIMAL(20, 2) column widened to one type) and a
-- window over a view.
CREATE VIEW expensive AS SELECT auction, price, channel, ts FROM bids WHERE price > 900;
CREATE TEMPORARY VIEW cheap AS SELECT bidder AS auction, price * 2 AS price, channel, ts FROM bids WHERE price < 20;
CREATE VIEW both_ends AS SELECT * FROM expensive UNION ALL SELECT * FROM cheap;
CREATE TABLE out_windows (channel STRING, window_start TIMESTAMP(3), bids BIGINT, total DECIMAL(38, 2), top_auction BIGINT)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_windows
SELECT channel, window_start, COUNT(*), SUM(price), MAX(auction)
FROM TABLE(TUMBLE(TABLE both_ends, DESCRIPTOR(ts), INTERVAL '2' MINUTE))
GROUP BY channel, window_start, window_end;
