"""Named groups of MediaPipe Face Mesh landmark indices (facts of the mesh, used by several stages).

"Right" and "left" are the person's own: the right eye is on the image's left in a frontal photo.
Eyelid lists run from the outer corner to the inner corner, so upper[k] faces lower[k].
"""

from __future__ import annotations

RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
LEFT_EYE_CORNERS = (263, 362)
RIGHT_UPPER_LID = (246, 161, 160, 159, 158, 157, 173)
RIGHT_LOWER_LID = (7, 163, 144, 145, 153, 154, 155)
LEFT_UPPER_LID = (466, 388, 387, 386, 385, 384, 398)
LEFT_LOWER_LID = (249, 390, 373, 374, 380, 381, 382)
RIGHT_BROW = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55)
LEFT_BROW = (300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
RIGHT_IRIS = tuple(range(468, 473))
LEFT_IRIS = tuple(range(473, 478))

MOUTH_RIGHT_CORNER, MOUTH_LEFT_CORNER = 61, 291
# Inner lip contour, right corner to left corner.
INNER_UPPER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
INNER_LOWER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
OUTER_UPPER_LIP = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
OUTER_LOWER_LIP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)

NOSE_TIP = 1
SUBNASALE = 2
GLABELLA = 168
CHIN = 152
FOREHEAD = 10

# The face outline, clockwise from the forehead: motion fades to zero here so the warp leaves no seam.
FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)

EYES = (
    # (name, upper lid, lower lid, corners, brow, iris)
    ("right", RIGHT_UPPER_LID, RIGHT_LOWER_LID, RIGHT_EYE_CORNERS, RIGHT_BROW, RIGHT_IRIS),
    ("left", LEFT_UPPER_LID, LEFT_LOWER_LID, LEFT_EYE_CORNERS, LEFT_BROW, LEFT_IRIS),
)
