-- JSON lines with nested values read into ARRAY, MAP and ROW columns (missing and null values
-- NULL), taken apart and written as JSON.
CREATE TABLE orders (
  id INT, tags ARRAY<STRING>, qty MAP<STRING, INT>, buyer ROW<name STRING, zip STRING>,
  scores ARRAY<DECIMAL(5, 2)>
) WITH ('connector' = 'filesystem', 'path' = '${DATA}/orders.nested.json', 'format' = 'json');
CREATE TABLE out_orders (
  id INT, tags ARRAY<STRING>, first_tag STRING, tag_count INT, apples INT, qty MAP<STRING, INT>,
  buyer_name STRING, zip STRING, scores ARRAY<DECIMAL(5, 2)>, shown STRING
) WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'json');
INSERT INTO out_orders
SELECT id, tags, tags[1], CARDINALITY(tags), qty['apple'], qty, buyer.name, buyer.zip, scores,
  CAST(scores AS STRING)
FROM orders;
