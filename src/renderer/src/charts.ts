import { use } from 'echarts/core'
import { CanvasRenderer } from 'echarts/renderers'
import { BarChart, HeatmapChart, LineChart, TreeChart, ScatterChart } from 'echarts/charts'
import {
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent
} from 'echarts/components'

/**
 * Every ECharts part the app draws with, registered once at start-up
 * (ECharts is tree-shaken: what is not imported here is not in the bundle).
 */
export function registerCharts(): void {
  use([CanvasRenderer, BarChart, HeatmapChart, LineChart, TreeChart, ScatterChart])
  use([GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent])
}
