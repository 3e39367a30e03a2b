"""The published award table, from the published numbers.

The project's record of the table holds the entry's row: accuracy 0.5138, ratio 0.000424393,
score 0.659532682, 5th place. The other teams' rows are not recorded, so the four places above it
are stand-ins (marked as such) that only fix the entry's position; the entry's own row must come out
exactly as published: its score to 9 decimals and its place.
"""

from mathlora.evaluate.leaderboard import ranked_published

ENTRY = {"team": "entry", "accuracy": 0.5138, "ratio": 0.000424393}
PUBLISHED_SCORE = 0.659532682
PUBLISHED_PLACE = 5


def stand_ins_above(count: int) -> list[dict]:
    # not published numbers: any accuracies that score above the entry's
    return [{"team": f"stand-in {i}", "accuracy": 0.60 + 0.01 * i, "ratio": 0.0005}
            for i in range(count)]


def test_entry_row_reproduces_the_published_score_and_place():
    table = ranked_published([ENTRY, *stand_ins_above(PUBLISHED_PLACE - 1),
                              {"team": "stand-in below", "accuracy": 0.30, "ratio": 0.001}])
    row = next(r for r in table if r["team"] == "entry")
    assert row["score"] == PUBLISHED_SCORE
    assert f"{row['score']:.9f}" == "0.659532682"
    assert row["rank"] == PUBLISHED_PLACE

