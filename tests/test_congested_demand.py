"""The congestion correction of measured demand, against hand-computed rates."""
import pytest

from controller.congested_demand import congestion_corrected

UTILISATION = {(1, 2): 0.95, (2, 3): 0.40, (1, 4): 0.30, (4, 3): 0.89}


def utilisation(link):
    return UTILISATION.get(link, 0.0)


def test_only_the_share_sent_over_a_saturated_link_is_raised():
    # pair (1, 3) sends 3/4 over 1-2-3 (1-2 saturated) and 1/4 over 1-4-3 (4-3 just under 0.9)
    splits = {(1, 3): (((1, 2, 3), 0.75), ((1, 4, 3), 0.25)),
              (4, 3): (((4, 3), 1.0),),
              (2, 3): (((2, 3), 1.0),)}
    demand = {(1, 3): 8e6, (4, 3): 2e6, (2, 3): 1e6}
    corrected, raised = congestion_corrected(demand, splits, utilisation, saturated=0.9, boost=0.5)
    assert corrected[(1, 3)] == pytest.approx(8e6 * 0.75 * 1.5 + 8e6 * 0.25)  # 11 Mbit/s
    assert corrected[(4, 3)] == 2e6 and corrected[(2, 3)] == 1e6
    assert raised == [(1, 3)]
    assert demand[(1, 3)] == 8e6  # the measured rates are not touched


def test_the_threshold_is_inclusive_and_unnormalised_weights_are_shares():
    splits = {(1, 3): (((1, 4, 3), 2.0), ((1, 2, 3), 2.0))}
    corrected, raised = congestion_corrected({(1, 3): 4e6}, splits, utilisation, saturated=0.89, boost=1.0)
    # both paths saturated at 0.89: the whole rate counts twice
    assert corrected[(1, 3)] == pytest.approx(8e6) and raised == [(1, 3)]


def test_no_boost_no_split_or_no_rate_leaves_the_demand_as_measured():
    splits = {(1, 3): (((1, 2, 3), 1.0),), (1, 2): (((1, 2), 1.0),)}
    demand = {(1, 3): 5e6, (1, 2): 0.0, (2, 1): 3e6}  # (2, 1) has no installed split
    assert congestion_corrected(demand, splits, utilisation, 0.9, 0.0) == (demand, [])
    corrected, raised = congestion_corrected(demand, splits, utilisation, 0.9, 0.25)
    assert corrected == {(1, 3): 6.25e6, (1, 2): 0.0, (2, 1): 3e6} and raised == [(1, 3)]
