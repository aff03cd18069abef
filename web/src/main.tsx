import { render } from 'preact';
import { App, initialTheme } from './app';
import './styles.css';

document.documentElement.dataset.theme = initialTheme();

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
