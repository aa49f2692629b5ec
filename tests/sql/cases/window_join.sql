-- A window join (Flink's WindowJoin): each bid of a TUMBLE window joined with the same
-- window's bids of its bidder on auctions below 1030, on both window bounds and the bidder.
CREATE TABLE out_joined (
  bidder BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
  auction BIGINT, price DECIMAL(10, 2), other_auction BIGINT, other_price DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_joined
SELECT L.bidder, L.window_start, L.window_end, L.auction, L.price, R.auction, R.price
FROM (SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))) L
JOIN (
  SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  WHERE auction < 1030
) R
ON L.bidder = R.bidder AND L.window_start = R.window_start AND L.window_end = R.window_end;
