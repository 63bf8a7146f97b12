import { findChartImages, readChart, type ChartImage } from '../charts/index.js';

/** `airlock chart images CHART`: the images a chart's values and templates name (a .tgz or a chart directory). */
export async function listChartImages(path: string): Promise<ChartImage[]> {
  return findChartImages(await readChart(path), path);
}
