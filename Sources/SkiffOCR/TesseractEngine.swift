public import SkiffImage
internal import CTesseract
internal import Foundation

/// Settings for a Tesseract engine.
public struct TesseractConfiguration: Sendable, Hashable {
    public var model: TesseractModel
    /// Tesseract language code(s), e.g. `eng` or `eng+deu`.
    public var language: String
    /// Page segmentation mode (Tesseract's --psm): 3 fully automatic, 4 single column, 6 single block...
    public var pageSegmentationMode: Int
    /// Stop a page that takes longer than this many seconds (pathological pages); nil for no limit.
    public var deadline: Double?
    /// Extra Tesseract variables, set after initialisation.
    public var variables: [String: String]
    /// The resolution to tell Tesseract when the file states none (nil: let Tesseract guess,
    /// as its command line does). Tesseract scales its expectations of text size by it.
    public var assumedResolution: Int?

    public init(model: TesseractModel = .fast, language: String = "eng", pageSegmentationMode: Int = 3,
                deadline: Double? = 120, variables: [String: String] = [:], assumedResolution: Int? = nil) {
        self.model = model
        self.language = language
        self.pageSegmentationMode = pageSegmentationMode
        self.deadline = deadline
        self.variables = variables
        self.assumedResolution = assumedResolution
    }
}

/// One Tesseract instance (a `TessBaseAPI` handle) with its model loaded.
///
/// Creating one loads the model (tens to hundreds of milliseconds), so make
/// one per worker and reuse it. Calls are serialised by a lock: an engine is
/// safe to share, but only one page is recognised at a time.
public final class TesseractEngine: @unchecked Sendable {
    public let configuration: TesseractConfiguration
    public let location: TesseractModel.Location
    private let handle: OpaquePointer
    private let lock = NSLock()

    /// Loads libtesseract (once per process) and the configured model.
    public init(configuration: TesseractConfiguration = TesseractConfiguration()) throws(OCRError) {
        guard (0...13).contains(configuration.pageSegmentationMode) else {
            throw OCRError.invalidImage("page segmentation mode must be 0...13, got \(configuration.pageSegmentationMode)")
        }
        try Self.loadLibrary()
        let location = try configuration.model.locate(language: configuration.language)
        guard let handle = skiff_tess_create() else {
            throw OCRError.libraryUnavailable("TessBaseAPICreate returned nothing")
        }
        // Tesseract's debug chatter ("Detected 47 diacritics", resolution
        // warnings) goes to stderr unless redirected; it is not for our users.
        var names = [strdup("debug_file")]
        var values = [strdup("/dev/null")]
        defer {
            names.forEach { free($0) }
            values.forEach { free($0) }
        }
        // Tesseract wants the datapath with a trailing slash.
        let status = skiff_tess_init(handle, location.datapath + "/", location.language, OEM_DEFAULT,
                                     nil, 0, &names, &values, 1, 0)
        guard status == 0 else {
            skiff_tess_destroy(handle)
            throw OCRError.initializationFailed(datapath: location.datapath, language: location.language)
        }
        for (name, value) in configuration.variables.sorted(by: { $0.key < $1.key }) {
            if skiff_tess_set_variable(handle, name, value) == 0 {
                skiff_tess_end(handle)
                skiff_tess_destroy(handle)
                throw OCRError.recognitionFailed("unknown Tesseract variable '\(name)'")
            }
        }
        self.configuration = configuration
        self.location = location
        self.handle = handle
    }

    deinit {
        skiff_tess_end(handle)
        skiff_tess_destroy(handle)
    }

    /// The loaded libtesseract's version, e.g. "5.3.0".
    public static func libraryVersion() throws(OCRError) -> String {
        try loadLibrary()
        guard let version = skiff_tess_version() else { return "unknown" }
        return String(cString: version)
    }

    /// Whether OpenMP was loaded before Skiff could limit its threads (Tesseract then runs slower).
    public static var openMPWasPreloaded: Bool { skiff_tess_openmp_preloaded() }

    private static let loadResult: Result<Void, OCRError> = {
        var message = [CChar](repeating: 0, count: 512)
        let status = skiff_tess_load(nil, 0, &message, message.count)
        if status == 0 { return .success(()) }
        let text = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return .failure(.libraryUnavailable(text))
    }()

    static func loadLibrary() throws(OCRError) {
        try loadResult.get()
    }

    /// A handle that lets another thread cancel a recognition in progress.
    public final class Cancellation: @unchecked Sendable {
        fileprivate let state = UnsafeMutablePointer<skiff_tess_cancel_state>.allocate(capacity: 1)

        public init() {
            state.initialize(to: skiff_tess_cancel_state(cancel_requested: 0, deadline_passed: 0, deadline: 0))
        }

        deinit { state.deallocate() }

        /// Asks the running recognition to stop at its next word.
        public func cancel() { skiff_tess_request_cancel(state) }
    }

    /// Recognises one page. Alpha is composited onto white; colour pages go to Tesseract as RGB.
    public func recognize(_ image: PixelBuffer, page: Int = 0, cancellation: Cancellation? = nil) throws(OCRError) -> OCRPage {
        let pixels = image.opaque()
        guard pixels.width > 0, pixels.height > 0 else { throw OCRError.invalidImage("the page has no pixels") }
        // Tesseract keeps coordinates in 16-bit integers.
        guard pixels.width <= 32_767, pixels.height <= 32_767 else {
            throw OCRError.invalidImage("\(pixels.width)x\(pixels.height) exceeds Tesseract's 32767-pixel side limit")
        }
        lock.lock()
        defer { lock.unlock() }

        let cancel = cancellation ?? Cancellation()
        cancel.state.pointee.deadline_passed = 0
        let started = skiff_tess_monotonic_seconds()
        cancel.state.pointee.deadline = configuration.deadline.map { started + $0 } ?? 0

        skiff_tess_set_page_seg_mode(handle, TessPageSegMode(UInt32(configuration.pageSegmentationMode)))
        pixels.pixels.withUnsafeBufferPointer { buffer in
            skiff_tess_set_image(handle, buffer.baseAddress, Int32(pixels.width), Int32(pixels.height),
                                 Int32(pixels.layout.channels), Int32(pixels.bytesPerRow))
        }
        defer { skiff_tess_clear(handle) }
        if let dpi = pixels.resolution?.y, dpi >= 1 {
            skiff_tess_set_source_resolution(handle, Int32(dpi.rounded()))
        } else if let dpi = configuration.assumedResolution, dpi >= 1 {
            skiff_tess_set_source_resolution(handle, Int32(dpi))
        }
        guard let monitor = skiff_tess_monitor_create() else {
            throw OCRError.recognitionFailed("cannot create a progress monitor")
        }
        defer { skiff_tess_monitor_delete(monitor) }
        skiff_tess_monitor_attach(monitor, cancel.state)
        let status = skiff_tess_recognize(handle, monitor)
        if cancel.state.pointee.deadline_passed != 0 {
            throw OCRError.deadlineExceeded(seconds: configuration.deadline ?? 0)
        }
        if cancel.state.pointee.cancel_requested != 0 { throw OCRError.cancelled }
        guard status == 0 else { throw OCRError.recognitionFailed("Recognize returned \(status)") }

        var text = ""
        if let raw = skiff_tess_get_utf8_text(handle) {
            text = String(cString: raw)
            skiff_tess_delete_text(raw)
        }
        let (words, lines, blocks) = layout()
        return OCRPage(page: page, width: pixels.width, height: pixels.height, dpi: pixels.resolution?.y,
                       text: text, words: words, lines: lines, blocks: blocks)
    }

    /// Walks Tesseract's result iterator word by word, opening a new block and
    /// line whenever the iterator says one begins.
    private func layout() -> ([OCRWord], [OCRLine], [OCRBlock]) {
        var words: [OCRWord] = [], lines: [OCRLine] = [], blocks: [OCRBlock] = []
        guard let iterator = skiff_tess_get_iterator(handle) else { return (words, lines, blocks) }
        defer { skiff_tess_result_iterator_delete(iterator) }
        guard let page = skiff_tess_result_iterator_page(iterator) else { return (words, lines, blocks) }

        func box(_ level: TessPageIteratorLevel) -> BoundingBox? {
            var left: Int32 = 0, top: Int32 = 0, right: Int32 = 0, bottom: Int32 = 0
            guard skiff_tess_page_iterator_bounding_box(page, level, &left, &top, &right, &bottom) != 0 else { return nil }
            return BoundingBox(x0: Int(left), y0: Int(top), x1: Int(right), y1: Int(bottom))
        }
        func closeLine() {
            guard var line = lines.popLast() else { return }
            line.words = line.words.lowerBound..<words.count
            line.text = words[line.words].map(\.text).joined(separator: " ")
            lines.append(line)
        }
        func closeBlock() {
            guard var block = blocks.popLast() else { return }
            block.lines = block.lines.lowerBound..<lines.count
            blocks.append(block)
        }
        let nowhere = BoundingBox(x0: 0, y0: 0, x1: 0, y1: 0)
        repeat {
            let newBlock = blocks.isEmpty || skiff_tess_page_iterator_is_at_beginning_of(page, RIL_BLOCK) != 0
            let newLine = newBlock || skiff_tess_page_iterator_is_at_beginning_of(page, RIL_TEXTLINE) != 0
            if newLine { closeLine() }
            if newBlock {
                closeBlock()
                blocks.append(OCRBlock(box: box(RIL_BLOCK) ?? nowhere, lines: lines.count..<lines.count))
            }
            if newLine {
                let confidence = Double(skiff_tess_result_iterator_confidence(iterator, RIL_TEXTLINE)) / 100
                lines.append(OCRLine(text: "", box: box(RIL_TEXTLINE) ?? nowhere, confidence: confidence,
                                     block: blocks.count - 1, words: words.count..<words.count))
            }
            guard let raw = skiff_tess_result_iterator_text(iterator, RIL_WORD) else { continue }
            let text = String(cString: raw)
            skiff_tess_delete_text(raw)
            // Tesseract occasionally reports a "word" that is only a space; its text output drops it.
            guard !text.allSatisfy(\.isWhitespace), let wordBox = box(RIL_WORD) else { continue }
            let confidence = Double(skiff_tess_result_iterator_confidence(iterator, RIL_WORD)) / 100
            words.append(OCRWord(text: text, box: wordBox, confidence: confidence, line: lines.count - 1))
        } while skiff_tess_result_iterator_next(iterator, RIL_WORD) != 0
        closeLine()
        closeBlock()
        return (words, lines, blocks)
    }
}
