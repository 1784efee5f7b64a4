public import SkiffImage
public import SkiffOCR
public import SkiffONNX
internal import Foundation

/// Settings of the PP-OCR engine. The defaults are rapidocr's (without the orientation
/// classifier), so line texts can be compared with its onnxruntime pipeline.
public struct PPOCRConfiguration: Sendable, Hashable {
    public enum LimitType: String, Sendable, Hashable { case min, max }

    /// A folder with the three files; nil searches the usual places (see `PPOCRModels`).
    public var modelDirectory: String?
    /// Threads for products and element-wise loops.
    public var threads: Int
    /// Detection input scaling: with `.min`, pages whose short side is below this are scaled up
    /// to it; with `.max`, pages whose long side is above it are scaled down. Sides are then
    /// rounded to multiples of 32.
    public var limitSideLength: Int
    public var limitType: LimitType
    /// Pages whose long side is above this are scaled down to it before the limit above applies
    /// (rapidocr's default preprocessing, `Global.max_side_len`); 0 turns it off. A 600 dpi A4
    /// scan is otherwise detected at 4960x7008. Only detection sees the smaller page: crops for
    /// recognition come from the full page.
    public var maxSideLength: Int = 2000
    public var db: DBSettings
    /// Lines per recognition run.
    public var recognitionBatch: Int
    /// Lines are padded to at least this width at height 48 (rapidocr: 320).
    public var recognitionMinimumWidth: Int
    /// Lines whose mean character probability is below this are dropped (rapidocr: 0.5).
    public var textScore: Double
    /// Two characters whose centres are further apart than this many times the line's median
    /// character pitch get a space between them (where the recogniser put none).
    public var spaceGap: Double
    /// An ink-free gap between two characters at least this many line heights wide is a space.
    public var blankGap: Double = 0.23
    /// Between two digits, a gap is a space only where their centres are more than this many of
    /// the line's digit pitches apart.
    public var digitSpacing: Double = 1.4
    /// Boxes on one row form one output line (an item and its price: what extraction reads, as
    /// it reads Tesseract at psm 4). The default, false, keeps each detected box its own line in
    /// row order: PP-OCR's own notion of a line (rapidocr's output), and the text people see.
    public var rowLines = false
    /// Arithmetic of the recognition network's products: fp32 (the default: onnxruntime's,
    /// up to summation order) or, on CPUs with AVX512-BF16, bfloat16 operands with fp32 sums for
    /// its deep products (`bfloat16MinimumDepth`, 200 inputs per output: the 240- and
    /// 480-channel 1x1 convolutions, most of its multiply-adds), and detection's deepest
    /// (`detectionBFloat16MinimumDepth`); its other products are shallow (16-96 channels) and
    /// in bfloat16 would move boxes.
    /// Measured on sroie-dev (README): recognition 21-24 % less CPU time, CER unchanged, 1.7 %
    /// of lines read differently from onnxruntime (0.1 % in fp32); with every product in
    /// bfloat16, detection included, 2.6 % (first 20 receipts).
    public var precision: ProductPrecision = .float32
    /// Recognition products with fewer inputs per output stay fp32 under `.bfloat16`
    /// (`SessionOptions.bfloat16MinimumDepth`).
    public static let bfloat16MinimumDepth = 200
    /// Detection's products with at least this many inputs per output run in bfloat16 under
    /// `.bfloat16`: only the head's 3x3 convolutions from 96 channels (864 inputs), a third of
    /// detection's time. 10 receipts detected at full size: all 499 of rapidocr's boxes still
    /// found within 2 px, detection 0.80 -> 0.73 CPU s/page (README).
    public static let detectionBFloat16MinimumDepth = 800

    public init(modelDirectory: String? = nil, threads: Int = 2, limitSideLength: Int = 736,
                limitType: LimitType = .min, db: DBSettings = DBSettings(), recognitionBatch: Int = 6,
                recognitionMinimumWidth: Int = 320, textScore: Double = 0.5, spaceGap: Double = 1.8) {
        self.recognitionMinimumWidth = recognitionMinimumWidth
        self.modelDirectory = modelDirectory
        self.threads = threads
        self.limitSideLength = limitSideLength
        self.limitType = limitType
        self.db = db
        self.recognitionBatch = recognitionBatch
        self.textScore = textScore
        self.spaceGap = spaceGap
    }
}

extension PPOCRConfiguration {
    /// The detector's input size for a page: rapidocr's, step by step. Its preprocessing resizes
    /// the page so the long side is at most `maxSideLength`, each side rounded to a multiple of 32;
    /// the detection limit then applies to that size. (Skiff makes one resize from the full page
    /// to the final size, and crops from the full page where rapidocr crops the smaller one.)
    public func detectionSize(width: Int, height: Int) -> (width: Int, height: Int) {
        func round32(_ v: Int) -> Int { max(32, Int((Double(v) / 32).rounded(.toNearestOrEven)) * 32) }
        var (w0, h0) = (width, height)
        if maxSideLength > 0, max(width, height) > maxSideLength {
            let pre = Double(maxSideLength) / Double(max(width, height))
            (w0, h0) = (round32(Int(Double(width) * pre)), round32(Int(Double(height) * pre)))
        }
        let limit = Double(limitSideLength)
        var ratio = 1.0
        switch limitType {
        case .min:
            if min(w0, h0) < limitSideLength { ratio = limit / Double(min(w0, h0)) }
        case .max:
            if max(w0, h0) > limitSideLength { ratio = limit / Double(max(w0, h0)) }
        }
        return (round32(Int(Double(w0) * ratio)), round32(Int(Double(h0) * ratio)))
    }
}

/// One detected line: its box, crop orientation and reading.
public struct PPOCRLine: Sendable, Hashable {
    public var box: TextBox
    public var reading: LineReading
    /// The crop was turned 90° (a tall box).
    public var rotated: Bool
}

/// PP-OCRv5 mobile text detection and recognition on Skiff's own ONNX runtime.
/// Loading reads both networks once; an engine is immutable and can be shared.
public final class PPOCREngine: OCREngine, Sendable {
    public let configuration: PPOCRConfiguration
    public let models: PPOCRModels
    public let detector: InferenceSession
    public let recognizer: TextRecognizer

    public init(configuration: PPOCRConfiguration = PPOCRConfiguration()) throws(PPOCRError) {
        self.configuration = configuration
        models = try PPOCRModels.locate(directory: configuration.modelDirectory)
        let options = SessionOptions(threads: configuration.threads)
        var recognition = options
        recognition.precision = configuration.precision
        recognition.bfloat16MinimumDepth = PPOCRConfiguration.bfloat16MinimumDepth
        var detection = options
        detection.precision = configuration.precision
        detection.bfloat16MinimumDepth = PPOCRConfiguration.detectionBFloat16MinimumDepth
        do {
            detector = try InferenceSession(path: models.detection, options: detection)
            let rec = try TextRecognizer.load(path: models.recognition, options: recognition)
            recognizer = try TextRecognizer(session: rec.session, keysPath: models.keys, batchSize: configuration.recognitionBatch,
                                            minimumWidth: configuration.recognitionMinimumWidth, head: rec.head)
        } catch let error as ONNXError {
            throw .runtime(error)
        } catch let error as PPOCRError {
            throw error
        } catch {
            throw .runtime(.badInput(String(describing: error)))
        }
    }

    public var name: String { "ppocr" }

    /// The detector's input size for a page (`configuration.detectionSize`).
    public func detectionSize(width: Int, height: Int) -> (width: Int, height: Int) {
        configuration.detectionSize(width: width, height: height)
    }

    /// The detector's probability map for a page ([1, 1, h, w] at `detectionSize`).
    public func probabilityMap(_ image: PixelBuffer) throws(PPOCRError) -> Tensor {
        let size = detectionSize(width: image.width, height: image.height)
        let threads = configuration.threads
        let resized = ImageOps.resize(image, width: size.width, height: size.height, threads: threads)
        var data = [Float](repeating: 0, count: 3 * size.width * size.height)
        data.withUnsafeMutableBufferPointer {
            ImageOps.normalize(resized, into: $0.baseAddress!, stride: size.width, scaling: .detection, threads: threads)
        }
        do {
            return try detector.run(Tensor(shape: [1, 3, size.height, size.width], floats: data))
        } catch {
            throw .runtime(error)
        }
    }

    /// Text boxes on a page, in rapidocr's order.
    public func detect(_ image: PixelBuffer) throws(PPOCRError) -> [TextBox] {
        let map = try probabilityMap(image)
        guard map.shape.count == 4 else { throw .runtime(.badInput("detection output has shape \(map.shape)")) }
        let (h, w) = (map.shape[2], map.shape[3])
        let values = map.floats
        let post = DBPostProcess(settings: configuration.db)
        return values.withUnsafeBufferPointer {
            post.boxes(prob: $0, width: w, height: h, pageWidth: image.width, pageHeight: image.height)
        }
    }

    /// Recognises the given boxes of a page (all of them, no score filter).
    public func read(_ image: PixelBuffer, boxes: [TextBox]) throws(PPOCRError) -> [PPOCRLine] {
        let rgb = image.rgb()
        // Crops are independent: shared out over the threads like the lines.
        let crops = try parallelMap(boxes.count, threads: configuration.threads) { i throws(PPOCRError) in
            ImageOps.crop(rgb, quad: boxes[i].corners)
        }
        let readings = try recognizer.recognize(crops.map(\.0))
        return zip(boxes, zip(readings, crops)).map { PPOCRLine(box: $0, reading: $1.0, rotated: $1.1.rotated) }
    }

    /// Detection and recognition; lines below the text score are dropped.
    public func lines(_ image: PixelBuffer) throws(PPOCRError) -> [PPOCRLine] {
        guard image.width > 0, image.height > 0 else { throw .invalidImage("the page has no pixels") }
        let boxes = try detect(image)
        return try read(image, boxes: boxes).filter { $0.reading.confidence >= configuration.textScore }
    }

    public func recognize(_ image: PixelBuffer, page: Int) throws(OCRError) -> OCRPage {
        let lines: [PPOCRLine]
        do { lines = try self.lines(image) } catch { throw OCRError.recognitionFailed(error.description) }
        var layout = PageLayout(spaceGap: configuration.spaceGap, blankGap: configuration.blankGap,
                                digitSpacing: configuration.digitSpacing)
        layout.rowLines = configuration.rowLines
        return layout.page(lines, page: page, width: image.width, height: image.height, dpi: image.resolution?.y)
    }
}
