public import Foundation

/// Renders a PDF's pages to PNG with poppler's `pdftoppm` (installed by `tools/setup.sh`), so
/// born-digital invoices go through the same OCR path as scans. Used by `skiff eval` for the
/// invoice sets; renders once into a folder and reuses the pages after that.
public enum PDFPages {
    /// The pages of `pdf` as PNG files at `dpi`, rendered into `folder` unless already there.
    public static func render(_ pdf: URL, dpi: Int = 300, into folder: URL) throws(ExtractionError) -> [URL] {
        let stem = pdf.deletingPathExtension().lastPathComponent + ".\(dpi)dpi"
        let fm = FileManager.default
        func existing() -> [URL] {
            ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? [])
                .filter { $0.hasPrefix(stem + "-") && $0.hasSuffix(".png") }
                .sorted { pageNumber($0) < pageNumber($1) }
                .map { folder.appendingPathComponent($0) }
        }
        // A finished rendering leaves a marker, so pages cut short by a killed run are redone.
        let marker = folder.appendingPathComponent(stem + ".done")
        if fm.fileExists(atPath: marker.path) { return existing() }
        do {
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["pdftoppm", "-r", String(dpi), "-png", pdf.path, folder.appendingPathComponent(stem).path]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                let why = String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                throw ExtractionError.input(file: pdf.path, reason: "pdftoppm failed (status \(process.terminationStatus)): \(why.isEmpty ? "no message" : why)")
            }
            try Data().write(to: marker)
        } catch let error as ExtractionError {
            throw error
        } catch {
            throw .input(file: pdf.path, reason: "cannot render the PDF with pdftoppm (poppler-utils; tools/setup.sh installs it): \(error)")
        }
        let pages = existing()
        guard !pages.isEmpty else { throw .input(file: pdf.path, reason: "pdftoppm rendered no page") }
        return pages
    }

    /// `name.300dpi-07.png` → 7.
    private static func pageNumber(_ name: String) -> Int {
        Int(name.dropLast(4).split(separator: "-").last ?? "") ?? 0
    }
}
