// The Skiff library: import this one module to get page decoding, tiling and OCR.
@_exported public import SkiffImage
@_exported public import SkiffOCR
