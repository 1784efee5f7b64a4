// The Skiff library: import this one module to get page decoding, tiling, OCR, scoring,
// JSON and JSON Schema, and the decoder.
@_exported public import SkiffImage
@_exported public import SkiffOCR
@_exported public import SkiffScoring
@_exported public import SkiffJSON
@_exported public import SkiffSchema
@_exported public import SkiffModelFiles
@_exported public import SkiffTokenizer
@_exported public import SkiffDecoder
@_exported public import SkiffConstraint
@_exported public import SkiffExtraction
@_exported public import SkiffVision
@_exported public import SkiffONNX
@_exported public import SkiffPPOCR
@_exported public import SkiffSpanRanker
