-- A left outer window join (Flink's WindowJoin with joinType=[LeftOuterJoin]): each bid of a
-- HOP window on auctions below 1010 with the same window's bids of its bidder on other
-- auctions; a bid with none comes once, the other side's columns NULL.
CREATE TABLE out_left (
  bidder BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3),
  auction BIGINT, price DECIMAL(10, 2), other_auction BIGINT, other_price DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_left
SELECT L.bidder, L.window_start, L.window_end, L.auction, L.price, R.auction, R.price
FROM (
  SELECT * FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
  WHERE auction < 1010
) L
LEFT JOIN (
  SELECT * FROM TABLE(HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))
) R
ON L.bidder = R.bidder AND L.window_start = R.window_start AND L.window_end = R.window_end
  AND L.auction <> R.auction;
