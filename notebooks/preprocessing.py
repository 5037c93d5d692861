# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Data preprocessing and augmentation
#
# - **Normalisation** with the statistics of the *training* split only:
#   $x' = (x - \mu_{train}) / (\sigma_{train} + \epsilon)$. Statistics computed on all splits
#   leak the test set into training.
# - **PCA**: the eigenvectors $U$ of the covariance $\Sigma = \frac{1}{N} X_c^\top X_c$, sorted by
#   eigenvalue $S$; $z = (x - \mu) U_{:, :k}$ keeps the $k$ directions of largest variance.
# - **Whitening**: PCA whitening $x_{rot} / \sqrt{S + \epsilon}$ gives unit variance in every
#   direction; ZCA rotates back, $x_{zca} = (x - \mu)\, U \operatorname{diag}(S +
#   \epsilon)^{-1/2} U^\top$, and so stays closest to the original image.
# - **Augmentation** draws from an explicit `rng` in a pinned order: flips, crops of a padded
#   image, brightness and colour jitter.

# %%
# %load_ext autoreload
# %autoreload 2
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_sample_image

from grader import notebook

ASSIGNMENTS = notebook.use_assignments()  # $GRADER_ASSIGNMENTS, else ../assignments
import preprocessing  # noqa: E402  (your assignments/preprocessing.py)

# %%
notebook.check("preprocessing")

# %% [markdown]
# ## The mean image and normalisation
# The mean and standard deviation of every pixel over the training digits (CS231n's "mean
# image"); the corners never light up, so their $\sigma$ is 0 and $\epsilon$ keeps the division
# finite.

# %%
X_train, y_train, X_val, y_val = notebook.load_digits()
with notebook.needs("fit_normalizer / normalize_splits"):
    mean, std = preprocessing.fit_normalizer(X_train)
    train_n, val_n, _ = preprocessing.normalize_splits(X_train, X_val, X_val)
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.8))
    axes[0].imshow(mean.reshape(8, 8), cmap="gray")
    axes[0].set_title("mean image")
    axes[1].imshow(std.reshape(8, 8), cmap="gray")
    axes[1].set_title("std image")
    axes[2].hist(X_train.ravel(), bins=40)
    axes[2].set_title("pixels before")
    axes[3].hist(train_n.ravel(), bins=40, range=(-4, 4), label="train")
    axes[3].hist(val_n.ravel(), bins=40, range=(-4, 4), alpha=0.6, label="validation")
    axes[3].set_title("after (training statistics)")
    axes[3].legend(fontsize=8)
    for ax in axes[:2]:
        ax.axis("off")
    plt.show()

# %% [markdown]
# ## Principal components
# How much of the variance the first $k$ components keep, the first components themselves as
# images, and digits rebuilt from $k$ coordinates, $\hat x = z U_{:, :k}^\top + \mu$.

# %%
with notebook.needs("pca_fit / pca_project"):
    components, variance, pca_mean = preprocessing.pca_fit(X_train, 64)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3), gridspec_kw={"width_ratios": [1, 2]})
    axes[0].plot(np.arange(1, 65), np.cumsum(variance) / variance.sum(), "o-", markersize=3)
    axes[0].set(xlabel="k", ylabel="variance kept", title="explained variance")
    axes[1].axis("off")
    for j in range(8):
        inset = axes[1].inset_axes([j / 8, 0.1, 0.12, 0.8])
        inset.imshow(components[:, j].reshape(8, 8), cmap="coolwarm")
        inset.set_title(f"PC {j + 1}", fontsize=8)
        inset.axis("off")
    plt.show()

    fig, axes = plt.subplots(4, 8, figsize=(8, 4.4))
    for row, k in enumerate((2, 8, 20, 64)):
        z = preprocessing.pca_project(X_val[:8], components[:, :k], pca_mean)
        rebuilt = z @ components[:, :k].T + pca_mean
        for j in range(8):
            axes[row, j].imshow(rebuilt[j].reshape(8, 8), cmap="gray")
            axes[row, j].set_xticks([])
            axes[row, j].set_yticks([])
        axes[row, 0].set_ylabel(f"k = {k}")
    plt.show()

# %% [markdown]
# ## Whitening
# The covariance of the digits before and after your whitening (the identity, up to
# $\epsilon$), and what ZCA does to the images: it keeps their look and evens out the
# contrast, so edges stand out.

# %%
with notebook.needs("pca_whiten / zca_whiten"):
    pca_w = preprocessing.pca_whiten(X_train, eps=1e-2)
    zca_w = preprocessing.zca_whiten(X_train, eps=1e-2)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, data, title in zip(axes, (X_train, pca_w, zca_w), ("raw", "PCA-whitened", "ZCA")):
        centred = data - data.mean(axis=0)
        ax.imshow(centred.T @ centred / len(data), cmap="coolwarm")
        ax.set_title(f"covariance, {title}")
        ax.axis("off")
    plt.show()
    fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
    for j in range(8):
        axes[0, j].imshow(X_train[j].reshape(8, 8), cmap="gray")
        axes[1, j].imshow(zca_w[j].reshape(8, 8), cmap="gray")
        axes[0, j].axis("off")
        axes[1, j].axis("off")
    fig.suptitle("top: digits, bottom: ZCA-whitened")
    plt.show()

# %% [markdown]
# ## Augmentation
# Patches of a colour photo (scikit-learn's sample image) through your `random_flip`,
# `random_crop` (pad 4, crop back to the original size) and `color_jitter`, all from one
# seeded generator.

# %%
photo = load_sample_image("china.jpg")[::8, ::8] / 255.0  # (54, 80, 3)
patches = np.stack([photo[10:42, x : x + 32].transpose(2, 0, 1) for x in range(0, 48, 6)])
rng = np.random.default_rng(0)
with notebook.needs("random_flip / random_crop / color_jitter"):
    rows = {
        "original": patches,
        "random_flip": preprocessing.random_flip(patches, rng),
        "random_crop (pad 4)": preprocessing.random_crop(patches, rng, (32, 32), pad=4),
        "color_jitter": preprocessing.color_jitter(patches, rng, brightness=0.4, color=0.3),
    }
    fig, axes = plt.subplots(4, len(patches), figsize=(12, 6))
    for r, (name, images) in enumerate(rows.items()):
        for j, image in enumerate(images):
            axes[r, j].imshow(np.clip(image.transpose(1, 2, 0), 0, 1))
            axes[r, j].set_xticks([])
            axes[r, j].set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    plt.show()
