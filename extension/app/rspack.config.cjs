// Builds the standalone JupyterLab bundle into build/, following JupyterLab's examples/app:
//   build/bundle.js (+ chunks)           served at /static/lab/
//   build/schemas/<package>/<plugin>.json settings schemas
//   build/themes/<package>/index.css      theme CSS
//   build/style.js                        generated CSS imports (input to the bundle)
const fs = require('node:fs');
const path = require('node:path');
const rspack = require('@rspack/core');
const { Build } = require('@jupyter/builder');
const miniSVGDataURI = require('mini-svg-data-uri');

const data = require('./package.json');

// CHLAB_APP_BUILD_DIR builds elsewhere (served with CHLAB_STATIC_DIR), e.g. to try a change beside a running build.
const buildDir = path.resolve(process.env.CHLAB_APP_BUILD_DIR || path.join(__dirname, 'build'));
const { extensions, mimeExtensions } = data.jupyterlab;
const packageNames = [...new Set([...extensions, ...mimeExtensions])];

// index.js imports every plugin package explicitly (imports must be static);
// fail early if it and package.json drift apart.
const entrySource = fs.readFileSync(path.join(__dirname, 'index.js'), 'utf8');
const missing = packageNames.filter(name => !entrySource.includes(`import('${name}`));
if (missing.length > 0) {
  throw new Error(`index.js does not import: ${missing.join(', ')}`);
}

// Copies schemas, builds theme CSS and writes build/style.js.
const themeConfigs = Build.ensureAssets({ packageNames, output: buildDir });

// Output cleaning must spare what ensureAssets wrote (paths arrive absolute).
const keepEnsuredAssets = file => {
  const relative = path.relative(buildDir, file).split(path.sep).join('/');
  return relative === '' || /^(schemas|themes)(\/|$)|^style\.js$/.test(relative);
};

// DuckDB-WASM (result re-query in the browser): its .wasm and worker files are served by the proxy from
// build/duckdb/ (/static/lab/duckdb/…), never from a CDN. Its ESM entry imports apache-arrow 17; it uses the
// extension's apache-arrow instead, so the bundle holds one Arrow.
const duckdbDist = path.dirname(require.resolve('@duckdb/duckdb-wasm/dist/duckdb-eh.wasm', { paths: [path.join(__dirname, '..')] }));
const extensionArrow = path.dirname(require.resolve('apache-arrow', { paths: [path.join(__dirname, '..')] }));
const DUCKDB_FILES = ['duckdb-mvp.wasm', 'duckdb-eh.wasm', 'duckdb-browser-mvp.worker.js', 'duckdb-browser-eh.worker.js'];
// parquet-wasm (Parquet export in the browser): its .wasm is served from build/parquet/ and passed to its init,
// so its `new URL('…wasm', import.meta.url)` default is not bundled as a second copy.
const parquetWasmDist = path.dirname(require.resolve('parquet-wasm/esm/parquet_wasm_bg.wasm', { paths: [path.join(__dirname, '..')] }));

const svgAsDataUri = {
  dataUrl: {
    content: content => miniSVGDataURI(content.content),
    mimetype: 'image/svg+xml'
  }
};

const bundleConfig = {
  name: 'lab',
  mode: 'production',
  devtool: false,
  entry: ['./index.js'],
  context: __dirname,
  output: {
    path: buildDir,
    filename: 'bundle.js',
    chunkFilename: '[id].[contenthash:8].js',
    assetModuleFilename: 'assets/[hash][ext][query]',
    // Remove chunks of earlier builds, keep what ensureAssets wrote.
    clean: { keep: keepEnsuredAssets }
  },
  bail: true,
  resolve: {
    alias: {
      // Only reachable through @jupyterlab/mermaid's renderer, which this app
      // does not load (markedparser-extension only takes its optional token).
      // Leaving these out saves most of the build time and megabytes of chunks.
      mermaid: false,
      '@mermaid-js/layout-elk': false
    }
  },
  module: {
    rules: [
      // JupyterLab packages are ESM with extensionless imports.
      { test: /\.m?js$/, resolve: { fullySpecified: false } },
      { include: duckdbDist, resolve: { alias: { 'apache-arrow': extensionArrow } } },
      { include: parquetWasmDist, parser: { url: false } },
      { test: /\.raw\.css$/, type: 'asset/source' },
      { test: /(?<!\.raw)\.css$/, use: ['style-loader', 'css-loader'] },
      { test: /\.html$/, type: 'asset/resource' },
      { test: /\.md$/, type: 'asset/source' },
      { test: /\.(jpg|png|gif)$/, type: 'asset/resource' },
      { test: /\.js\.map$/, type: 'asset/resource' },
      { test: /\.(woff2?|ttf)(\?v=\d+\.\d+\.\d+)?$/, type: 'asset' },
      { test: /\.eot(\?v=\d+\.\d+\.\d+)?$/, type: 'asset/resource' },
      {
        // In CSS, SVGs become data URIs.
        test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
        issuer: /\.css$/,
        type: 'asset/inline',
        generator: svgAsDataUri
      },
      {
        // In JavaScript, SVGs are imported as strings (LabIcon svgstr).
        test: /\.svg(\?v=\d+\.\d+\.\d+)?$/,
        issuer: /\.m?js$/,
        type: 'asset/source'
      }
    ]
  },
  plugins: [
    new rspack.CopyRspackPlugin({
      patterns: [
        ...DUCKDB_FILES.map(file => ({ from: path.join(duckdbDist, file), to: `duckdb/${file}`, info: { minimized: true } })),
        { from: path.join(parquetWasmDist, 'parquet_wasm_bg.wasm'), to: 'parquet/parquet_wasm_bg.wasm', info: { minimized: true } }
      ]
    }),
    new rspack.DefinePlugin({
      // Some dependencies call process.cwd() / read process.env (path polyfill).
      'process.env': '{}',
      'process.cwd': '(() => "/")'
    })
  ],
  performance: { hints: false },
  stats: 'errors-warnings'
};

module.exports = [bundleConfig, ...themeConfigs];
