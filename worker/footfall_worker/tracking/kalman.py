"""A constant-velocity Kalman filter over many boxes at once (ByteTrack's motion model, vectorised).

The state is (cx, cy, a, h, vcx, vcy, va, vh): centre, aspect ratio w/h, height and their velocities, as in
SORT/DeepSORT/ByteTrack, because an aspect ratio changes slowly while width and height change together.
Callers speak xyxy; the conversion happens only here.

Time is measured in *reference frames* (seconds x the reference frame rate, 30 by default) rather than in
processed frames: when the worker skips frames, a step of 3 frames moves a box three times as far and adds
three frames' worth of process noise, so the paper's noise weights stay right at any processing rate.
"""

import numpy as np

STATE = 8
# Noise relative to the box height, per reference frame (the ByteTrack/DeepSORT values).
STD_POSITION = 1.0 / 20
STD_VELOCITY = 1.0 / 160
# Per-state standard deviations as (weight x height + constant): the aspect ratio's noise does not scale.
_INIT_STD_WEIGHT = np.array(
    [2 * STD_POSITION] * 2 + [0.0, 2 * STD_POSITION] + [10 * STD_VELOCITY] * 2 + [0.0, 10 * STD_VELOCITY]
)
_INIT_STD_CONST = np.array([0, 0, 1e-2, 0, 0, 0, 1e-5, 0])
_PROCESS_STD_WEIGHT = np.array([STD_POSITION] * 2 + [0.0, STD_POSITION] + [STD_VELOCITY] * 2 + [0.0, STD_VELOCITY])
_PROCESS_STD_CONST = np.array([0, 0, 1e-2, 0, 0, 0, 1e-5, 0])
_MEASURE_STD_WEIGHT = np.array([STD_POSITION, STD_POSITION, 0.0, STD_POSITION])
_MEASURE_STD_CONST = np.array([0, 0, 1e-1, 0])
_DIAG8 = np.arange(STATE)
_DIAG4 = np.arange(4)


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    width = boxes[:, 2] - boxes[:, 0]
    height = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-6)
    return np.stack([boxes[:, 0] + width / 2, boxes[:, 1] + height / 2, width / height, height], axis=1)


def xyah_to_xyxy(state: np.ndarray) -> np.ndarray:
    state = np.asarray(state, dtype=np.float64).reshape(-1, state.shape[-1])
    height = state[:, 3]
    width = state[:, 2] * height
    return np.stack(
        [state[:, 0] - width / 2, state[:, 1] - height / 2, state[:, 0] + width / 2, state[:, 1] + height / 2], axis=1
    )


def initiate(boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from their first boxes: means (n, 8) with zero velocity, covariances (n, 8, 8)."""
    measurement = xyxy_to_xyah(boxes_xyxy)
    n = measurement.shape[0]
    means = np.zeros((n, STATE))
    means[:, :4] = measurement
    std = measurement[:, 3:4] * _INIT_STD_WEIGHT + _INIT_STD_CONST
    covariances = np.zeros((n, STATE, STATE))
    covariances[:, _DIAG8, _DIAG8] = std**2
    return means, covariances


def predict(means: np.ndarray, covariances: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Advance each track by its own `steps` (reference frames, (n,)): x' = F x, P' = F P F^T + Q * steps."""
    steps = np.asarray(steps, dtype=np.float64).reshape(-1)
    if means.shape[0] == 0:
        return means, covariances
    means = means.copy()
    means[:, :4] += means[:, 4:] * steps[:, None]
    std = means[:, 3:4] * _PROCESS_STD_WEIGHT + _PROCESS_STD_CONST
    # F P F^T with F = [[I, dt I], [0, I]], written out blockwise: cheaper than two batched 8x8 matmuls.
    p11, p12 = covariances[:, :4, :4], covariances[:, :4, 4:]
    p21, p22 = covariances[:, 4:, :4], covariances[:, 4:, 4:]
    dt = steps[:, None, None]
    new = np.empty_like(covariances)
    new[:, :4, :4] = p11 + dt * (p12 + p21) + dt * dt * p22
    new[:, :4, 4:] = p12 + dt * p22
    new[:, 4:, :4] = p21 + dt * p22
    new[:, 4:, 4:] = p22
    new[:, _DIAG8, _DIAG8] += std**2 * steps[:, None]
    return means, new


def update(means: np.ndarray, covariances: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct each track with its matched box (one row each)."""
    if means.shape[0] == 0:
        return means, covariances
    measurement = xyxy_to_xyah(boxes_xyxy)
    r = (means[:, 3:4] * _MEASURE_STD_WEIGHT + _MEASURE_STD_CONST) ** 2
    innovation_cov = covariances[:, :4, :4].copy()
    innovation_cov[:, _DIAG4, _DIAG4] += r
    cross = covariances[:, :, :4]  # P H^T, (n, 8, 4)
    # K = P H^T S^-1, solved rather than inverted (S is symmetric positive definite).
    gain = np.linalg.solve(innovation_cov, cross.transpose(0, 2, 1)).transpose(0, 2, 1)
    innovation = measurement - means[:, :4]
    new_means = means + np.einsum("nij,nj->ni", gain, innovation)
    new_covariances = covariances - gain @ innovation_cov @ gain.transpose(0, 2, 1)
    return new_means, new_covariances
