"""The labels a tracked person is given: one type for the classifier, the votes, the record and the table.

The `tracks.gender` column's CHECK constraint (storage/sql) accepts exactly these values.
"""

from typing import Literal

Gender = Literal["female", "male", "unknown"]
