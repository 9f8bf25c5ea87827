// Entry of the page: register every family's plugins (for the pickers, forms and link decoding),
// then start the app. Training happens in Web Workers (worker.ts).
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { PlaygroundApp } from './app';
import { registerPlugins } from './plugins';

registerPlugins();
new PlaygroundApp(document.getElementById('app')!).start();
