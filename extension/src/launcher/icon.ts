import { LabIcon } from '@jupyterlab/ui-components';

/** Yellow bars on a dark tile, readable on light and dark themes. */
const CLICKHOUSE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <rect width="24" height="24" rx="4" fill="#1d1d1b"/>
  <g fill="#fcd116">
    <rect x="3.5" y="4" width="2.5" height="16" rx="0.5"/>
    <rect x="7.5" y="4" width="2.5" height="16" rx="0.5"/>
    <rect x="11.5" y="4" width="2.5" height="16" rx="0.5"/>
    <rect x="15.5" y="4" width="2.5" height="16" rx="0.5"/>
    <rect x="19.5" y="10" width="2" height="4" rx="0.5"/>
  </g>
</svg>`;

export const clickhouseIcon = new LabIcon({
  name: 'chlab-extension:clickhouse',
  svgstr: CLICKHOUSE_SVG
});
