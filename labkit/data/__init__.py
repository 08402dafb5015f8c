"""Data: PneumoniaMNIST via medmnist, the phantom set, shortcut markers, user images."""
from labkit.data.images import load_image
from labkit.data.markers import (MARKERS, BorderStripe, BurnedText, CornerSquare, MarkerSpec, make_marker,
                                 marker_from_dict)
from labkit.data.phantom import load_phantom, make_phantom
from labkit.data.pneumonia import find_file, load_pneumonia, search_dirs
from labkit.data.split import CLASS_NAMES, LabData, Split, denormalize, normalize

__all__ = ["load_pneumonia", "find_file", "search_dirs", "load_phantom", "make_phantom", "load_image",
           "LabData", "Split", "CLASS_NAMES", "normalize", "denormalize", "MarkerSpec", "CornerSquare",
           "BorderStripe", "BurnedText", "MARKERS", "make_marker", "marker_from_dict"]
