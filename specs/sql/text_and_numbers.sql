-- stars (row)
SELECT *
FROM "data"
WHERE (NOT ("sentiment" = ?) OR ("rating" >= ?)) IS NOT TRUE
-- params: ["positive", 4]

-- cheap_or_long (row)
SELECT *
FROM "data"
WHERE (("price" < ?) OR (sds_word_count("body") >= ?)) IS NOT TRUE
-- params: [20, 30]

-- no_shouting (row)
SELECT *
FROM "data"
WHERE (NOT regexp_matches("title", ?)) IS NOT TRUE
-- params: ["^[A-Z ]+$"]

-- title_words (row)
SELECT *
FROM "data"
WHERE (sds_word_count("title") BETWEEN ? AND ?) IS NOT TRUE
-- params: [2, 10]

-- some_tags (row)
SELECT *
FROM "data"
WHERE (len("tags") BETWEEN ? AND ?) IS NOT TRUE
-- params: [1, 4]

-- starts_well (row)
SELECT *
FROM "data"
WHERE (NOT starts_with(lower(sds_trim("body")), ?)) IS NOT TRUE
-- params: ["as an ai"]

-- mixed_case (row)
SELECT *
FROM "data"
WHERE (contains(lower("body"), ?) OR (length("body") < ?)) IS NOT TRUE
-- params: ["the", 40]

-- half_price (row)
SELECT *
FROM "data"
WHERE (("price" / nullif(?, 0)) <= ?) IS NOT TRUE
-- params: [2, 250]

-- ratings_mean (dataset)
WITH measured AS (
  SELECT
    (SELECT avg("rating") FROM "data") AS "mean(rating)"
)
SELECT *, coalesce(("mean(rating)" BETWEEN ? AND ?), false) AS passed
FROM measured
-- params: [2.5, 4.5]

-- varied (dataset)
WITH measured AS (
  SELECT
    (SELECT count(DISTINCT "body") / nullif(count(*), 0) FROM "data") AS "distinct_ratio(body)"
)
SELECT *, coalesce(("distinct_ratio(body)" >= ?), false) AS passed
FROM measured
-- params: [0.9]

-- unique_titles (dataset)
WITH measured AS (
  SELECT
    (SELECT count(*) = 0 FROM (SELECT 1 FROM "data" GROUP BY "title" HAVING count(*) > 1)) AS "unique(title)"
)
SELECT *, coalesce("unique(title)", false) AS passed
FROM measured
-- params: []

-- balanced (dataset)
WITH measured AS (
  SELECT
    (SELECT 0.5 * sum(abs(coalesce(a.share, 0) - coalesce(t.share, 0)))
     FROM (SELECT "sentiment" AS value, count(*) / sum(count(*)) OVER () AS share
           FROM "data" GROUP BY 1) AS a
     FULL JOIN (VALUES (?, ?), (?, ?)) AS t(value, share) ON a.value = t.value) AS "tvd(sentiment)"
)
SELECT *, coalesce(("tvd(sentiment)" <= ?), false) AS passed
FROM measured
-- params: ["positive", 0.5, "negative", 0.5, 0.05]

-- enough_praise (dataset)
WITH measured AS (
  SELECT
    (SELECT count(*) FILTER (WHERE ("sentiment" = ?)) / nullif(count(*), 0) FROM "data") AS "share((sentiment == ""positive""))"
)
SELECT *, coalesce(("share((sentiment == ""positive""))" >= ?), false) AS passed
FROM measured
-- params: ["positive", 0.4]

-- lengths (dataset)
WITH measured AS (
  SELECT
    (SELECT median(sds_word_count("body")) FROM "data") AS "median(word_count(body))"
)
SELECT *, coalesce(("median(word_count(body))" BETWEEN ? AND ?), false) AS passed
FROM measured
-- params: [20, 60]
