"""Leaderboard core: best valid checkpoint, score from the judge's parameter count, places, paired
tests between neighbours, tie groups, awards, refusals with their reasons."""

import pytest
from leaderboard_kit import N, bundle_team, npy_team

from mathlora.artifacts import write_artifact
from mathlora.evaluate.leaderboard import Team, build, ranked_published
from mathlora.evaluate.score import composite
from mathlora.evaluate.stats import mcnemar_exact


def first(k: int) -> set[int]:
    return set(range(1, k + 1))


def contest() -> list[Team]:
    return [
        # ckpt2 is more accurate but loses SQuAD: ckpt1 counts
        bundle_team("alpha", {"ckpt1": first(160), "ckpt2": first(190)},
                    squad={"ckpt1": (58.0, 44.0), "ckpt2": (50.0, 44.0)},
                    claimed={"path": "s.json", "chosen_on": "dev", "best": "ckpt2",
                             "models": {"ckpt2": {"dev": 0.97, "test": 0.95}}}),
        bundle_team("beta", {"ckpt1": first(100), "ckpt2": first(158)}),
        npy_team("gamma", first(100)),
        bundle_team("hostile", {}, refused="the zip has a member escaping its folder: ../x"),
        npy_team("short", first(10), n=150),
        bundle_team("liar", {"ckpt1": first(150)}, declared={"trainable_parameters": 1000}),
    ]


def test_best_valid_checkpoint_and_ratio_from_the_network():
    board = build(contest(), resamples=500)
    rows = {r["team"]: r for r in board["teams"]}
    assert rows["alpha"]["model"] == "ckpt1" and rows["alpha"]["squad"] == "pass"
    # the summary rows say ratio 0 and score 0.3: the judge's parameter count is what counts
    assert rows["alpha"]["score"] == round(composite(0.8, 3_407_872 / 8.03e9), 9)
    assert rows["beta"]["model"] == "ckpt2"
    assert rows["gamma"]["squad"] == "not judged" and rows["gamma"]["f1"] is None
    assert [r["team"] for r in board["teams"] if r["status"] == "ranked"] == ["alpha", "beta", "gamma"]
    assert [rows[t]["rank"] for t in ("alpha", "beta", "gamma")] == [1, 2, 3]
    assert rows["alpha"]["claimed"] == {"model": "ckpt2", "accuracy": 0.95, "judged_accuracy": 0.95}
    assert rows["alpha"]["categories"]["add"] == {"n": 100, "accuracy": 1.0}


def test_refusals_name_their_reason():
    board = build(contest(), resamples=200)
    reasons = {r["team"]: r["reason"] for r in board["teams"] if r["status"] == "refused"}
    assert set(reasons) == {"hostile", "short", "liar"} and board["refused"] == 3
    assert "escaping" in reasons["hostile"]
    assert reasons["short"] == f"scored on 150 items, not the {N} hidden items every team is judged on"
    assert "declared 1,000 trainable parameters" in reasons["liar"] and "3,407,872" in reasons["liar"]


def test_duplicate_names_refuse_every_copy():
    teams = [bundle_team("Delta", {"ckpt1": first(150)}), npy_team("delta.zip", first(120)),
             bundle_team("eps", {"ckpt1": first(100)})]
    board = build(teams, resamples=200)
    refused = [r for r in board["teams"] if r["status"] == "refused"]
    assert {r["team"] for r in refused} == {"Delta", "delta.zip"}
    assert all("duplicate team name" in r["reason"] for r in refused)
    assert board["ranked"] == 1


def test_no_checkpoint_passing_squad_is_refused():
    team = bundle_team("weak", {"ckpt1": first(150)}, squad={"ckpt1": (53.9, 44.0)})
    board = build([team, bundle_team("ok", {"ckpt1": first(100)})], resamples=200)
    assert board["teams"][-1]["reason"].startswith("no checkpoint keeps SQuAD")


def test_paired_tests_and_tie_groups_follow_them():
    board = build(contest(), resamples=1000)
    alpha_beta, beta_gamma = board["pairs"]
    # alpha right on 1..160, beta on 1..158: 2 discordant items, no evidence of a difference
    assert (alpha_beta["only_upper"], alpha_beta["only_lower"]) == (2, 0)
    assert alpha_beta["mcnemar_p"] == mcnemar_exact(2, 0) == 0.5
    assert alpha_beta["tied"] and alpha_beta["bootstrap_ci95"][0] <= 0.0 + 1e-12
    assert beta_gamma["mcnemar_p"] < 1e-6 and beta_gamma["bootstrap_ci95"][0] > 0
    assert not beta_gamma["tied"]
    assert board["tie_groups"] == [["alpha", "beta"], ["gamma"]]
    rows = {r["team"]: r for r in board["teams"]}
    assert rows["alpha"]["tie_group"] == rows["beta"]["tie_group"] == 1 and rows["gamma"]["tie_group"] == 2
    # the first prize's boundary falls inside the first tie group
    assert board["awards"][0] == {"award": "first prize", "teams": ["alpha"], "ranks": [1],
                                  "scores": [rows["alpha"]["score"]], "contested": True}
    assert board["awards"][1]["teams"] == ["beta", "gamma"] and not board["awards"][1]["contested"]


def test_bootstrap_is_seeded():
    one, two = build(contest(), resamples=300, seed=7), build(contest(), resamples=300, seed=7)
    assert one["pairs"] == two["pairs"]
    assert build(contest(), resamples=300, seed=8)["pairs"][1] != one["pairs"][1]


def test_equal_scores_share_a_place():
    rows = ranked_published([{"team": "a", "accuracy": 0.5, "ratio": 0.0},
                             {"team": "b", "accuracy": 0.5, "ratio": 0.0},
                             {"team": "c", "accuracy": 0.4, "ratio": 0.0}])
    assert [r["rank"] for r in rows] == [1, 1, 3]


def test_leaderboard_artifact_validates(tmp_path):
    document = write_artifact(tmp_path / "leaderboard.json", "leaderboard", build(contest(), resamples=100))
    assert document["kind"] == "leaderboard" and document["schema_version"] == "1.0"


def test_bad_artifact_is_rejected(tmp_path):
    from mathlora.errors import ArtifactError

    body = build(contest(), resamples=100)
    body["teams"][0]["rank"] = 0
    with pytest.raises(ArtifactError, match="teams/0"):
        write_artifact(tmp_path / "leaderboard.json", "leaderboard", body)
    assert not (tmp_path / "leaderboard.json").exists()
