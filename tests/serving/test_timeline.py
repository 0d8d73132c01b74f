"""Turn rows of a recording: times to the millisecond."""

import json


def test_turn_rows_give_times_to_the_millisecond():
    from mer_tf.serving.timeline import TurnPrediction, rows_as_jsonl

    row = TurnPrediction(13.049999999999999, 14.200000000000001, None, None, "neu",
                         {"neu": 1.0}, [])
    assert json.loads(rows_as_jsonl([row]))["start"] == 13.05
    assert '"start": 13.05, "end": 14.2,' in rows_as_jsonl([row])
