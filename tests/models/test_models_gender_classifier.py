"""Pure face/gender code (models/gender_classifier/1/face_gender.py), on synthetic data and real frames."""

from __future__ import annotations

import numpy as np
import pytest
from face_gender import (
    GENDER_MEAN_RGB,
    align_face,
    check_crops,
    chip_template,
    choose_face,
    content_extent,
    decode_yunet,
    face_quality,
    gender_blob,
    refine_patch,
    similarity_transform,
)

from footfall_worker.inference.gender_classifier import fit_into_canvas, person_crops
from tests.support.footage import HEAD_POSE, ONE_BY_ONE
from tests.support.footage import frames_at as read_frames

# HEAD_POSE: 480x270, a woman (left) and a man (right)
# person_detector boxes (xyxy, frame pixels) on frames 20 and 40; the people barely move in this clip
WOMAN_BOX = [25.0, 75.0, 214.0, 269.0]
MAN_BOX = [250.0, 51.0, 445.0, 268.0]
BEHIND = ONE_BY_ONE  # frame 350: a man seen from behind
BEHIND_BOX = [382.6, 3.8, 545.3, 371.0]


def make_face(cx=60.0, cy=60.0, eye_dist=20.0, nose_t=0.5, score=0.95, angle=0.0) -> np.ndarray:
    """A YuNet row for an upright face: eyes ``eye_dist`` apart, nose at fraction ``nose_t`` along them."""
    pts = np.array([[-0.5, -0.3], [0.5, -0.3], [nose_t - 0.5, 0.15], [-0.4, 0.55], [0.4, 0.55]]) * eye_dist
    c, s = np.cos(angle), np.sin(angle)
    pts = pts @ np.array([[c, s], [-s, c]]) + [cx, cy]
    w = 2.5 * eye_dist
    return np.r_[cx - w / 2, cy - w / 2, w, w * 1.2, pts.ravel(), score].astype(np.float32)


def test_similarity_transform_recovers_known_transform():
    src = np.random.default_rng(1).uniform(0, 100, (5, 2))
    ang, sc, t = 0.3, 1.7, np.array([5.0, -3.0])
    rot = sc * np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    m = similarity_transform(src, src @ rot.T + t)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_similarity_transform_never_mirrors():
    src = np.array([[0, 0], [10, 0], [5, 8]], float)
    m = similarity_transform(src, src * [-1, 1])  # a mirror image cannot be fitted by a similarity
    assert np.linalg.det(m[:, :2]) > 0


def test_chip_template_is_dlib_padding_mapping():
    t = chip_template(32, 0.2)
    np.testing.assert_allclose(t[0], (0.2 + np.array([0.2255, 0.2160])) / 1.4 * 32)
    assert t[0, 0] < t[1, 0] and t[2, 1] < t[3, 1]  # right eye left of left eye; mouth below nose


def test_align_face_puts_landmarks_on_the_template():
    img = np.zeros((200, 200, 3), np.uint8)
    lm = chip_template() * 3 + [40, 30]  # a face 3x the chip scale
    for x, y in lm.astype(int):
        img[y - 1 : y + 2, x - 1 : x + 2] = 255
    chip = align_face(img, lm)
    assert chip.shape == (32, 32, 3) and chip.dtype == np.uint8
    ys, xs = np.nonzero(chip[:, :, 0] > 60)
    for tx, ty in chip_template():
        assert np.min(np.hypot(xs - tx, ys - ty)) < 1.5


def test_face_quality_frontal_profile_small_upside_down():
    frontal = face_quality(make_face())
    assert 0.9 < frontal <= 1.0
    assert face_quality(make_face(nose_t=0.95)) == 0.0  # nose at an eye: profile
    assert 0 < face_quality(make_face(nose_t=0.75)) < frontal  # half-turned
    assert face_quality(make_face(eye_dist=4)) == 0.0  # 10 px face
    mirrored = make_face()
    mirrored[5:14:2] = 120 - mirrored[5:14:2]  # mouth above the eyes with the eyes in place: not a face
    assert face_quality(mirrored) == 0.0
    assert face_quality(make_face(angle=np.pi)) > 0.9  # a consistent upside-down face aligns fine
    assert face_quality(make_face(score=0.5)) == 0.0
    assert 0 < face_quality(make_face(angle=0.4)) <= 1.0  # tilted head is fine


def test_choose_face_prefers_upper_large_confident():
    upper_small = make_face(cx=60, cy=40, eye_dist=10, score=0.9)
    upper_big = make_face(cx=60, cy=50, eye_dist=20, score=0.8)
    lower_huge = make_face(cx=60, cy=200, eye_dist=30, score=0.99)
    faces = np.stack([upper_small, upper_big, lower_huge])
    assert choose_face(faces, (256, 128)) == 1
    assert choose_face(faces[2:], (256, 128)) is None
    assert choose_face(np.zeros((0, 15), np.float32), (256, 128)) is None


def test_content_extent_of_top_left_letterbox():
    crop = np.zeros((256, 128, 3), np.uint8)
    crop[:200, :90] = 40
    assert content_extent(crop) == (200, 90)
    assert content_extent(np.zeros((8, 8, 3), np.uint8)) == (0, 0)


def test_decode_yunet_one_anchor():
    h, w = 64, 96
    outs = {}
    for s in (8, 16, 32):
        n = (h // s) * (w // s)
        outs.update(
            {
                f"cls_{s}": np.zeros((1, n, 1), np.float32),
                f"obj_{s}": np.zeros((1, n, 1), np.float32),
                f"bbox_{s}": np.zeros((1, n, 4), np.float32),
                f"kps_{s}": np.zeros((1, n, 10), np.float32),
            }
        )
    k = 1 * (w // 16) + 2  # stride 16, cell x=2, y=1
    outs["cls_16"][0, k], outs["obj_16"][0, k] = 0.81, 1.0
    outs["bbox_16"][0, k] = [0.5, 0.5, np.log(2), np.log(3)]
    outs["kps_16"][0, k] = np.arange(10) * 0.1
    faces = decode_yunet(outs, (h, w), score_threshold=0.6)
    assert faces.shape == (1, 15)
    cx, cy, bw, bh = 2.5 * 16, 1.5 * 16, 32, 48
    np.testing.assert_allclose(faces[0, :4], [cx - bw / 2, cy - bh / 2, bw, bh], rtol=1e-5)
    np.testing.assert_allclose(faces[0, 4:6], [2 * 16, (1 + 0.1) * 16], rtol=1e-5)
    assert faces[0, 14] == pytest.approx(0.9)  # sqrt(cls * obj)
    assert decode_yunet(outs, (h, w), score_threshold=0.95).shape == (0, 15)


def test_refine_patch_centres_and_scales_the_face():
    face = make_face(cx=50, cy=70, eye_dist=16)
    m, side = refine_patch(face, 144)
    centre = m[:, :2] @ [face[0] + face[2] / 2, face[1] + face[3] / 2] + m[:, 2]
    np.testing.assert_allclose(centre, [side / 2, side / 2])
    assert m[0, 0] * max(face[2], face[3]) == pytest.approx(144)


def test_gender_blob_is_rgb_minus_mean_over_256():
    chip = np.zeros((1, 32, 32, 3), np.uint8)
    chip[..., 0] = 200  # blue in BGR
    x = gender_blob(chip)
    assert x.shape == (1, 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0, 0], (np.array([0, 0, 200]) - GENDER_MEAN_RGB) / 256, rtol=1e-6)


def test_check_crops_names_the_input():
    assert "'CROPS'" in check_crops(np.zeros((1, 256, 128, 3), np.float32))
    assert "'CROPS'" in check_crops(np.zeros((1, 256, 128, 4), np.uint8))
    assert check_crops(np.zeros((3, 256, 128, 3), np.uint8)) is None


# ------------------------------------------------------------------ real frames (needs onnxruntime)


def letterbox_crop(frame: np.ndarray, box: list[float]) -> np.ndarray:
    """The client's crop: cut `box` out of `frame` and fit it into the 256x128 canvas."""
    crop = person_crops(frame, np.array([box]))[0]
    assert crop is not None
    return fit_into_canvas(crop, 256, 128)[0]


@pytest.mark.parametrize("frame", [20, 40])
def test_woman_female_man_male(gender_classifier, frame):
    f = read_frames(HEAD_POSE, [frame])[frame]
    crops = np.stack([letterbox_crop(f, WOMAN_BOX), letterbox_crop(f, MAN_BOX)])
    res = gender_classifier.predict(crops)
    assert res.gender.shape == (2, 2) and res.quality.shape == (2, 1) and res.face_box.shape == (2, 4)
    assert (res.quality > 0).all()
    assert res.gender[0, 0] > 0.8 and res.gender[1, 1] > 0.8
    np.testing.assert_allclose(res.gender.sum(1), 1.0, atol=1e-4)
    for box in res.face_box:  # the face is in the upper part of the crop
        assert 0 <= box[0] < box[2] <= 128 and 0 <= box[1] < box[3] < 128


def test_no_face_gives_zero_quality_and_no_guess(gender_classifier):
    f = read_frames(BEHIND, [30, 350])
    crops = np.stack(
        [
            letterbox_crop(f[350], BEHIND_BOX),  # a man from behind
            letterbox_crop(f[30], [600, 50, 700, 300]),  # wall and floor
            np.zeros((256, 128, 3), np.uint8),
        ]
    )
    res = gender_classifier.predict(crops)
    assert (res.quality == 0).all() and (res.gender == 0).all() and (res.face_box == 0).all()
