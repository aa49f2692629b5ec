-- ARRAY and ROW columns read by Flink's CSV format (data/arrays_and_rows.csv, written by hand):
-- an array's elements and a row's fields separated by ';', an empty field an empty array or a
-- NULL row; and written back the same way.
CREATE TABLE nested_rows (id BIGINT, nums ARRAY<BIGINT>, words ARRAY<STRING>, r ROW<a INT, b STRING>)
WITH ('connector' = 'filesystem', 'path' = '${DATA}/arrays_and_rows.csv', 'format' = 'csv');
CREATE TABLE out_nested (id BIGINT, nn INT, nw INT, r_is_null BOOLEAN, ra INT, rb STRING, n1 BIGINT, w2 STRING,
  nums ARRAY<BIGINT>, words ARRAY<STRING>, r ROW<a INT, b STRING>)
WITH ('connector' = 'filesystem', 'path' = '${OUT}', 'format' = 'csv');
INSERT INTO out_nested
SELECT id, CARDINALITY(nums), CARDINALITY(words), r IS NULL, r.a, r.b, nums[1], words[2], nums, words, r
FROM nested_rows;
