// Drawing a decision-boundary map (from the worker, see boundary.ts): the predicted class of every
// cell as a colour whose strength is the model's confidence, with the training points on top in
// their true class's colour, on the card's canvases and as an SVG (whose picture is the PNG export).
import type { BoundaryMap } from './boundary';
import type { GeneratedView } from './generated';
import { escapeXml } from './svg';

/** Class colours (ColorBrewer-like, distinct from each other and readable on white). */
export const CLASS_COLORS = ['#2c7bb6', '#d7191c', '#1a9641', '#fdae61', '#7b3294', '#008080', '#a6611a', '#e7298a', '#666666', '#b8860b'] as const;

export function classColor(index: number): string {
  return CLASS_COLORS[index % CLASS_COLORS.length]!;
}

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

/**
 * The colour of a cell: white blended towards its class colour by the model's confidence (a
 * confident region is strong, the boundary is pale), never fully white so the class stays visible.
 */
export function cellColor(classIndex: number, confidence: number): [number, number, number] {
  const strength = 0.3 + 0.45 * (confidence / 255);
  return rgb(classColor(classIndex)).map((c) => Math.round(255 + (c - 255) * strength)) as [number, number, number];
}

/** Where a point of the plane lands on a drawing `width` x `height` of the map (y grows upwards). */
export function toPixel(map: Pick<BoundaryMap, 'bounds'>, x: number, y: number, width: number, height: number): [number, number] {
  const [xMin, xMax, yMin, yMax] = map.bounds;
  return [((x - xMin) / (xMax - xMin)) * width, ((yMax - y) / (yMax - yMin)) * height];
}

/** Paints the map's cells onto `context` at `width` x `height` (nearest cell per pixel, no smoothing). */
export function paintMap(context: CanvasRenderingContext2D, map: BoundaryMap, width: number, height: number): void {
  const n = map.resolution;
  const image = context.createImageData(n, n);
  for (let i = 0; i < n * n; i++) {
    const [r, g, b] = cellColor(map.classes[i]!, map.confidence[i]!);
    image.data.set([r, g, b, 255], 4 * i);
  }
  const cells = new OffscreenCanvas(n, n);
  cells.getContext('2d')!.putImageData(image, 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(cells, 0, 0, width, height);
}

/** Paints the training points: filled with their true class's colour, outlined in dark ink. */
export function paintPoints(context: CanvasRenderingContext2D, map: BoundaryMap, width: number, height: number, radius = 2.5): void {
  context.lineWidth = 1;
  context.strokeStyle = '#1d2330';
  for (let i = 0; i < map.labels.length; i++) {
    const [px, py] = toPixel(map, map.points[2 * i]!, map.points[2 * i + 1]!, width, height);
    context.beginPath();
    context.arc(px, py, radius, 0, 2 * Math.PI);
    context.fillStyle = classColor(map.labels[i]!);
    context.fill();
    context.stroke();
  }
}

/**
 * Paints a generation view: the real points small and faint in their class's colour, the generated
 * ones on top, outlined, in the colour of the class they were asked for.
 */
export function paintSamples(context: CanvasRenderingContext2D, view: GeneratedView, width: number, height: number, radius = 2.5): void {
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  const draw = (points: Float32Array, labels: Uint8Array, r: number, alpha: number, outline: boolean): void => {
    context.globalAlpha = alpha;
    context.strokeStyle = '#1d2330';
    for (let i = 0; i < labels.length; i++) {
      const [px, py] = toPixel(view, points[2 * i]!, points[2 * i + 1]!, width, height);
      context.beginPath();
      context.arc(px, py, r, 0, 2 * Math.PI);
      context.fillStyle = classColor(labels[i]!);
      context.fill();
      if (outline) context.stroke();
    }
    context.globalAlpha = 1;
  };
  draw(view.real, view.realLabels, radius * 0.7, 0.25, false);
  draw(view.generated, view.generatedLabels, radius, 0.9, true);
}

/** Accuracy of the model on the drawn training points (from the same eval pass as the map). */
export function pointAccuracy(map: BoundaryMap): number {
  let correct = 0;
  for (let i = 0; i < map.labels.length; i++) if (map.labels[i] === map.predicted[i]) correct++;
  return map.labels.length > 0 ? correct / map.labels.length : 0;
}

/**
 * The map as a standalone SVG: one rectangle per run of equal cells in a row, the training points
 * as circles, a title and a class legend.
 */
export function boundarySvg(map: BoundaryMap, title: string, size = 480): string {
  const n = map.resolution;
  const top = 40;
  const legend = 24;
  const cell = size / n;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size + top + legend}" viewBox="0 0 ${size} ${size + top + legend}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="${size}" height="${size + top + legend}" fill="#ffffff"/>`);
  parts.push(`<text x="4" y="18" font-size="15" font-weight="600" fill="#1d2330">${escapeXml(title)}</text>`);
  parts.push(`<text x="4" y="34" fill="#5a6273">Decision boundary at step ${map.step}: predicted class (colour, stronger where confident), training points in their true class</text>`);
  parts.push(`<g transform="translate(0 ${top})" shape-rendering="crispEdges">`);
  for (let row = 0; row < n; row++) {
    let start = 0;
    for (let col = 1; col <= n; col++) {
      const i = row * n + col;
      const j = row * n + start;
      if (col < n && map.classes[i] === map.classes[j] && map.confidence[i] === map.confidence[j]) continue;
      const [r, g, b] = cellColor(map.classes[j]!, map.confidence[j]!);
      parts.push(`<rect x="${(start * cell).toFixed(2)}" y="${(row * cell).toFixed(2)}" width="${((col - start) * cell).toFixed(2)}" height="${cell.toFixed(2)}" fill="rgb(${r},${g},${b})"/>`);
      start = col;
    }
  }
  parts.push('</g>');
  parts.push(`<g transform="translate(0 ${top})" stroke="#1d2330" stroke-width="1">`);
  for (let i = 0; i < map.labels.length; i++) {
    const [px, py] = toPixel(map, map.points[2 * i]!, map.points[2 * i + 1]!, size, size);
    parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3" fill="${classColor(map.labels[i]!)}"/>`);
  }
  parts.push('</g>');
  for (let c = 0; c < map.numClasses; c++) {
    const x = 4 + c * 80;
    const y = top + size + 16;
    parts.push(`<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${classColor(c)}"/><text x="${x + 16}" y="${y + 1}" fill="#1d2330">class ${c}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n');
}
