-- Outer window joins (Flink's WindowJoin with joinType=[FullOuterJoin]): each TUMBLE window's
-- bids on auctions below 1010 and its bids above 500 dollars joined on the bidder and both
-- window bounds, where the first's price is below the second's; a bid with no match in its
-- window comes once, the other side's columns NULL.
CREATE TABLE out_full (
  window_start TIMESTAMP(3), window_end TIMESTAMP(3), bidder BIGINT,
  auction BIGINT, price DECIMAL(10, 2), other_auction BIGINT, other_price DECIMAL(10, 2)
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_full
SELECT COALESCE(L.window_start, R.window_start), COALESCE(L.window_end, R.window_end),
  COALESCE(L.bidder, R.bidder), L.auction, L.price, R.auction, R.price
FROM (
  SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  WHERE auction < 1010
) L
FULL JOIN (
  SELECT * FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND))
  WHERE price > 500
) R
ON L.bidder = R.bidder AND L.window_start = R.window_start AND L.window_end = R.window_end
  AND L.price < R.price;
